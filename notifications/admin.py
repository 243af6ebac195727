"""The owner edits each agent's notification settings on the agent's page in the admin."""

from django.contrib import admin, messages

from helpdesk.admin import AgentAdmin
from helpdesk.errors import ServiceError
from helpdesk.models import Agent

from . import services
from .models import Episode, EpisodeRecipient, NotificationSettings


class NotificationSettingsInline(admin.StackedInline):
    model = NotificationSettings
    can_delete = False
    extra = 1
    max_num = 1


class AgentWithNotificationsAdmin(AgentAdmin):
    inlines = [*AgentAdmin.inlines, NotificationSettingsInline]

    def get_inline_instances(self, request, obj=None):
        # Only on an existing agent's page: a new agent starts with the defaults.
        return super().get_inline_instances(request, obj) if obj is not None else []

    def save_formset(self, request, form, formset, change):
        if formset.model is not NotificationSettings:
            return super().save_formset(request, form, formset, change)
        # Saved by the service, not by the formset; the admin's change message reads these.
        formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []
        for inline_form in formset.forms:
            if not inline_form.has_changed():
                continue
            try:
                services.notification_settings_update(
                    agent=form.instance,
                    actor=request.user,
                    offline_messages=inline_form.cleaned_data.get("offline_messages", True),
                    missed_conversations=inline_form.cleaned_data.get("missed_conversations", True),
                )
            except ServiceError as error:
                self.message_user(request, error.message, messages.ERROR)


admin.site.unregister(Agent)
admin.site.register(Agent, AgentWithNotificationsAdmin)


class EpisodeRecipientInline(admin.TabularInline):
    model = EpisodeRecipient
    extra = 0
    can_delete = False
    readonly_fields = ["agent", "emailed_at"]

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Episode)
class EpisodeAdmin(admin.ModelAdmin):
    """Read-only: the owner looks here to see who was told about what, and why something was not sent."""

    list_display = ["created_at", "conversation", "kind", "state", "due_at", "settled_at", "reason"]
    list_filter = ["kind", "state"]
    list_select_related = ["conversation__visitor"]
    raw_id_fields = ["conversation", "start_message"]
    inlines = [EpisodeRecipientInline]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
