from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from helpdesk.errors import ServiceError

from . import services
from .models import WebhookAttempt, WebhookDelivery, WebhookEndpoint, WebhookEvent


class WebhookEndpointForm(forms.ModelForm):
    url = forms.URLField(label=_("URL"), max_length=500, assume_scheme="https")
    events = forms.MultipleChoiceField(choices=WebhookEvent.choices, widget=forms.CheckboxSelectMultiple)

    class Meta:
        model = WebhookEndpoint
        fields = ["url", "description", "events", "is_active"]

    def clean_events(self):
        try:
            return services.webhook_events_clean(list(self.cleaned_data["events"]))
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
class WebhookEndpointAdmin(admin.ModelAdmin):
    form = WebhookEndpointForm
    list_display = ["url", "description", "is_active", "created_at"]
    list_filter = ["is_active"]
    readonly_fields = ["secret", "created_at"]
    fields = ["url", "description", "events", "is_active", "secret", "created_at"]
    inlines = [DeliveryInline]


class AttemptInline(admin.TabularInline):
    model = WebhookAttempt
    fields = ["attempted_at", "status_code", "succeeded", "duration_ms", "error", "response_body"]
    readonly_fields = fields
    extra = 0
    max_num = 0
    can_delete = False


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(admin.ModelAdmin):
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
                services.webhook_delivery_resend(delivery=delivery, actor=request.user)
            except ServiceError as error:
                self.message_user(request, f"{delivery}: {error.message}", messages.ERROR)
            else:
                self.message_user(request, _("%(delivery)s: sent again.") % {"delivery": delivery})
