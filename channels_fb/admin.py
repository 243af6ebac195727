"""The owner's page settings. Secrets are never shown back in full; saving goes through the services."""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from helpdesk.admin import ServiceRefusalsShown, masked
from helpdesk.errors import ServiceError

from . import selectors, services
from .models import FacebookPage, WebhookDelivery


class FacebookPageForm(forms.ModelForm):
    access_token = forms.CharField(
        label=_("page access token"), required=False, widget=forms.PasswordInput(render_value=False)
    )
    app_secret = forms.CharField(label=_("app secret"), required=False, widget=forms.PasswordInput(render_value=False))

    class Meta:
        model = FacebookPage
        fields = ["page_id", "name", "access_token", "app_secret", "human_agent_enabled"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.fields["page_id"].disabled = True
            for field in ("access_token", "app_secret"):
                self.fields[field].help_text = _("Stored: %(masked)s. Leave blank to keep it.") % {
                    "masked": masked(getattr(self.instance, field))
                }
        # The model instance must not carry the typed secret into the form's initial values.
        self.initial.pop("access_token", None)
        self.initial.pop("app_secret", None)

    def clean(self):
        cleaned = super().clean()
        if self.instance.pk:
            return cleaned
        # A new page: the service's own checks, shown on the form rather than failing on save.
        try:
            services.facebook_page_fields_clean(
                page_id=cleaned.get("page_id") or "",
                name=cleaned.get("name") or "",
                access_token=cleaned.get("access_token") or "",
                app_secret=cleaned.get("app_secret") or "",
            )
        except ServiceError as error:
            raise ValidationError({error.field: error.message} if error.field else error.message) from None
        if FacebookPage.objects.filter(page_id=cleaned["page_id"].strip()).exists():
            raise ValidationError({"page_id": _("This page is connected already.")})
        return cleaned

    def _post_clean(self):
        # The instance keeps its stored secrets: the service decides what a blank field means.
        pass


@admin.register(FacebookPage)
class FacebookPageAdmin(ServiceRefusalsShown, admin.ModelAdmin):
    form = FacebookPageForm
    list_display = ["name", "page_id", "connected", "disconnected_reason", "human_agent_enabled", "token"]
    readonly_fields = ["webhook_url", "verify_token", "connected", "disconnected_reason", "disconnected_at"]
    actions = ["disconnect", "reconnect"]

    def get_fieldsets(self, request, obj=None):
        fieldsets = [(None, {"fields": ["page_id", "name", "access_token", "app_secret", "human_agent_enabled"]})]
        if obj is None:  # the verify token is generated on save; the address is known already
            fieldsets.append((_("Facebook app webhook"), {"fields": ["webhook_url"]}))
        else:
            fieldsets.append(
                (
                    _("Facebook app webhook"),
                    {"fields": ["webhook_url", "verify_token", "connected", "disconnected_reason", "disconnected_at"]},
                )
            )
        return fieldsets

    @admin.display(description=_("access token"))
    def token(self, page: FacebookPage) -> str:
        return masked(page.access_token)

    @admin.display(description=_("webhook URL"))
    def webhook_url(self, page: FacebookPage) -> str:
        return selectors.webhook_url()

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        if change:
            saved = services.facebook_page_update(
                page=obj,
                actor=request.user,
                name=data["name"],
                access_token=data.get("access_token") or "",
                app_secret=data.get("app_secret") or "",
                human_agent_enabled=data["human_agent_enabled"],
            )
        else:
            saved = services.facebook_page_connect(
                page_id=data["page_id"],
                name=data["name"],
                access_token=data.get("access_token") or "",
                app_secret=data.get("app_secret") or "",
                human_agent_enabled=data["human_agent_enabled"],
                actor=request.user,
            )
        obj.pk = saved.pk
        obj.refresh_from_db()

    @admin.action(description=_("Disconnect the selected pages"))
    def disconnect(self, request, queryset):
        for page in queryset:
            services.facebook_page_disconnect(page=page, actor=request.user)
        self.message_user(request, _("Disconnected."), messages.SUCCESS)

    @admin.action(description=_("Connect the selected pages again"))
    def reconnect(self, request, queryset):
        for page in queryset:
            services.facebook_page_reconnect(page=page, actor=request.user)
        self.message_user(request, _("Connected."), messages.SUCCESS)


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(ServiceRefusalsShown, admin.ModelAdmin):
    list_display = ["received_at", "status", "error"]
    list_filter = ["status"]
    readonly_fields = ["received_at", "status", "error", "processed_at", "body", "body_sha256"]
    actions = ["process_again"]

    @admin.action(description=_("Process the selected failed deliveries again"))
    def process_again(self, request, queryset):
        for delivery in queryset.filter(status=WebhookDelivery.Status.FAILED):
            services.webhook_delivery_process_again(delivery=delivery, actor=request.user)
        self.message_user(request, _("Failed deliveries are being processed again."), messages.SUCCESS)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
