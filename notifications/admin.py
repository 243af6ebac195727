"""The owner's admin: webhooks and their deliveries, each agent's notification settings, sent notifications."""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from helpdesk.admin import AgentAdmin, ServiceRefusalsShown, masked, secret_shown_once
from helpdesk.errors import ServiceError
from helpdesk.models import Agent

from . import services, webhook_services
from .models import (
    Episode,
    EpisodeRecipient,
    NotificationSettings,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEvent,
)


class WebhookEndpointForm(forms.ModelForm):
    url = forms.URLField(label=_("URL"), max_length=500, assume_scheme="https")
    events = forms.MultipleChoiceField(choices=WebhookEvent.choices, widget=forms.CheckboxSelectMultiple)

    class Meta:
        model = WebhookEndpoint
        fields = ["url", "description", "events", "is_active"]

    def clean_url(self):
        try:
            return webhook_services.webhook_url_clean(self.cleaned_data["url"])
        except ServiceError as error:
            raise ValidationError(error.message) from None

    def clean_events(self):
        try:
            return webhook_services.webhook_events_clean(list(self.cleaned_data["events"]))
        except ServiceError as error:
            raise ValidationError(error.message) from None


class DeliveryInline(admin.TabularInline):
    model = WebhookDelivery
    fields = ["created_at", "event_type", "status", "attempt_count", "delivered_at"]
    readonly_fields = fields
    extra = 0
    max_num = 0
    can_delete = False
    show_change_link = True

    def get_queryset(self, request):
        return super().get_queryset(request).order_by("-created_at")


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(ServiceRefusalsShown, admin.ModelAdmin):
    form = WebhookEndpointForm
    list_display = ["url", "description", "is_active", "created_at"]
    list_filter = ["is_active"]
    readonly_fields = ["signing_secret", "created_at"]
    fields = ["url", "description", "events", "is_active", "signing_secret", "created_at"]
    inlines = [DeliveryInline]

    @admin.display(description=_("signing secret"))
    def signing_secret(self, endpoint: WebhookEndpoint) -> str:
        if endpoint.pk is None:
            return _("Made when the webhook is saved, and shown then.")
        return format_html(
            '<code>{}</code> <button type="submit" name="_rotate_secret" class="button">{}</button><p>{}</p>',
            masked(endpoint.secret),
            _("Replace"),
            _(
                "Shown in full once, when it is made. Replacing it shows the new one; deliveries from then on "
                "are signed with it, so update your receiver."
            ),
        )

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        if change:
            changes = {field: data[field] for field in form.changed_data if field in webhook_services.ENDPOINT_FIELDS}
            endpoint = webhook_services.webhook_endpoint_update(endpoint=obj, actor=request.user, **changes)
            if "_rotate_secret" in request.POST:
                endpoint = webhook_services.webhook_endpoint_rotate_secret(endpoint=endpoint, actor=request.user)
                request.new_webhook_secret = endpoint.secret
        else:
            endpoint = webhook_services.webhook_endpoint_create(
                url=data["url"],
                events=data["events"],
                description=data.get("description") or "",
                is_active=data.get("is_active", False),
                actor=request.user,
            )
            request.new_webhook_secret = endpoint.secret
        obj.pk = endpoint.pk
        obj.refresh_from_db()

    def _secret_page(self, request, endpoint: WebhookEndpoint):
        return secret_shown_once(
            request,
            self.admin_site,
            title=_("Signing secret of %(url)s") % {"url": endpoint.url},
            secret=request.new_webhook_secret,
            explanation=_("Check each delivery's X-Helpdesk-Signature with it (see the README)."),
            done_url=reverse("admin:notifications_webhookendpoint_change", args=[endpoint.pk]),
        )

    def response_add(self, request, obj, post_url_continue=None):
        return self._secret_page(request, obj)

    def response_change(self, request, obj):
        if getattr(request, "new_webhook_secret", None):
            return self._secret_page(request, obj)
        return super().response_change(request, obj)

    def delete_model(self, request, obj):
        webhook_services.webhook_endpoint_delete(endpoint=obj, actor=request.user)

    def delete_queryset(self, request, queryset):
        for endpoint in queryset:
            webhook_services.webhook_endpoint_delete(endpoint=endpoint, actor=request.user)


class AttemptInline(admin.TabularInline):
    model = WebhookAttempt
    fields = ["attempted_at", "status_code", "succeeded", "duration_ms", "error", "response_body"]
    readonly_fields = fields
    extra = 0
    max_num = 0
    can_delete = False


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(ServiceRefusalsShown, admin.ModelAdmin):
    list_display = ["event_type", "endpoint", "status", "attempt_count", "created_at", "delivered_at"]
    list_filter = ["status", "event_type", "endpoint"]
    readonly_fields = [
        "endpoint",
        "event_id",
        "event_type",
        "payload",
        "status",
        "attempt_count",
        "created_at",
        "delivered_at",
    ]
    inlines = [AttemptInline]
    actions = ["resend"]
    change_form_template = "admin/notifications/webhookdelivery/change_form.html"

    def has_add_permission(self, request):
        return False

    def response_change(self, request, obj):
        if "_resend" in request.POST:
            self.resend(request, WebhookDelivery.objects.filter(pk=obj.pk))
            return self.response_post_save_change(request, obj)
        return super().response_change(request, obj)

    @admin.action(description=_("Resend"))
    def resend(self, request, queryset):
        for delivery in queryset:
            try:
                webhook_services.webhook_delivery_resend(delivery=delivery, actor=request.user)
            except ServiceError as error:
                self.message_user(request, f"{delivery}: {error.message}", messages.ERROR)
            else:
                self.message_user(request, _("%(delivery)s: sent again.") % {"delivery": delivery})


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
        # A refusal rolls the agent's changes back with them (see ServiceRefusalsShown).
        for inline_form in formset.forms:
            if not inline_form.has_changed():
                continue
            services.notification_settings_update(
                agent=form.instance,
                actor=request.user,
                offline_messages=inline_form.cleaned_data.get("offline_messages", True),
                missed_conversations=inline_form.cleaned_data.get("missed_conversations", True),
            )


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
