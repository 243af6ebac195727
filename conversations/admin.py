from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from helpdesk.admin import ServiceRefusalsShown
from helpdesk.errors import ServiceError

from . import services
from .models import Conversation, ConversationEvent, Message, Tag


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False
    show_change_link = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class MessageInline(ReadOnlyInline):
    model = Message
    fields = ["created_at", "author", "agent", "channel", "body", "delivery_status", "delivery_error"]
    readonly_fields = fields


class EventInline(ReadOnlyInline):
    model = ConversationEvent
    fields = ["created_at", "kind", "actor", "data"]
    readonly_fields = fields


@admin.register(Conversation)
class ConversationAdmin(ServiceRefusalsShown, admin.ModelAdmin):
    """Conversations are changed in the dashboard; here the owner finds, reads, resolves and reopens them."""

    list_display = [
        "id",
        "visitor",
        "channel",
        "status",
        "assignee",
        "group",
        "rating",
        "created_at",
        "last_message_at",
    ]
    list_filter = ["status", "channel", "rating", "assignee", "group", "tags", "created_at"]
    search_fields = ["visitor__name", "visitor__email", "visitor__phone", "page_url", "ip_address"]
    list_select_related = ["visitor", "assignee", "group"]
    date_hierarchy = "created_at"
    inlines = [MessageInline, EventInline]
    actions = ["resolve", "reopen"]
    show_full_result_count = False

    def get_readonly_fields(self, request, obj=None):
        return [field.name for field in Conversation._meta.fields] + ["tags"]

    def has_add_permission(self, request):
        return False

    def _apply(self, request, queryset, service, done: str):
        count = 0
        for conversation in queryset:
            try:
                service(conversation=conversation, actor=request.user)
                count += 1
            except ServiceError as error:
                self.message_user(request, f"#{conversation.pk}: {error.message}", messages.ERROR)
        if count:
            self.message_user(request, done % {"count": count})

    @admin.action(description=_("Resolve selected conversations"))
    def resolve(self, request, queryset):
        self._apply(request, queryset, services.conversation_resolve, _("%(count)d conversations resolved."))

    @admin.action(description=_("Reopen selected conversations"))
    def reopen(self, request, queryset):
        self._apply(request, queryset, services.conversation_reopen, _("%(count)d conversations reopened."))


class TagForm(forms.ModelForm):
    class Meta:
        model = Tag
        fields = ["name"]

    def clean_name(self):
        try:
            return services.tag_name_clean(
                name=self.cleaned_data["name"], tag=self.instance if self.instance.pk else None
            )
        except ServiceError as error:
            raise ValidationError(error.message) from None


@admin.register(Tag)
class TagAdmin(ServiceRefusalsShown, admin.ModelAdmin):
    """Tags are created, renamed and deleted by the services, as from the dashboard and the API."""

    form = TagForm
    list_display = ["name"]
    search_fields = ["name"]

    def save_model(self, request, obj, form, change):
        if change:
            tag = services.tag_rename(tag=obj, name=form.cleaned_data["name"], actor=request.user)
        else:
            tag = services.tag_create(name=form.cleaned_data["name"], actor=request.user)
        obj.pk, obj.name = tag.pk, tag.name

    def delete_model(self, request, obj):
        services.tag_delete(tag=obj, actor=request.user)

    def delete_queryset(self, request, queryset):
        for tag in queryset:
            services.tag_delete(tag=tag, actor=request.user)
