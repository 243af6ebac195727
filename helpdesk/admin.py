from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin
from django.contrib.auth.forms import AdminUserCreationForm, PasswordResetForm, UserChangeForm
from django.core.exceptions import NON_FIELD_ERRORS, ObjectDoesNotExist, ValidationError
from django.db import router, transaction
from django.http import HttpResponseRedirect
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from . import services
from .errors import ServiceError
from .models import Account, Agent, AgentGroup, ApiKey
from .permissions import why_cannot_lose_owner


def masked(secret: str) -> str:
    """A secret as the admin shows it after it was first given: its last four characters."""
    return f"•••• {secret[-4:]}" if secret else "–"


def secret_shown_once(request, admin_site, *, title: str, secret: str, explanation: str, done_url: str):
    """A page with a new secret in full, answered to the request that made it: the secret is kept
    nowhere else for showing (not in a message, a cookie or the session), and later pages mask it."""
    context = {
        **admin_site.each_context(request),
        "title": title,
        "secret": secret,
        "explanation": explanation,
        "done_url": done_url,
    }
    return TemplateResponse(request, "admin/secret_shown_once.html", context)


def show_refusal_on_form(form: forms.BaseForm, error: ServiceError) -> None:
    """A service's refusal on the form: on its field when the form has that field, else above the form;
    once, when the form's own checks already say the same."""
    field = error.field if error.field in form.fields else None
    if error.message not in form.errors.get(field or NON_FIELD_ERRORS, []):
        form.add_error(field, error.message)


class ServiceRefusalsShown:
    """For an admin that saves and deletes through services. The form's checks run before the save, so
    a refusal can still come from the save itself: a race (the name another owner took a moment ago)
    or a rule only the service knows. Raised from `save_model`, `save_related` or `delete_model`, or by
    an action, Django's admin would answer with a 500 page. Here the admin's transaction is rolled back
    (nothing half-saved) and the owner sees why: on the form shown again, or as a message."""

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except ServiceError as error:
            if request.method != "POST" or hasattr(request, "service_refusal"):
                raise
            request.service_refusal = error
        except ObjectDoesNotExist:
            if request.method != "POST" or object_id is None:
                raise
            # Deleted by someone else while this save worked on it (the service re-reads it under its lock).
            self.message_user(
                request, _("It was deleted by someone else meanwhile; nothing was saved."), messages.ERROR
            )
            return HttpResponseRedirect(reverse(f"admin:{self.opts.app_label}_{self.opts.model_name}_changelist"))
        # The same post is validated again and its form carries the refusal, so the page shows what the
        # owner sent, with the reason, and saves nothing.
        return super().changeform_view(request, object_id, form_url, extra_context)

    def get_form(self, request, obj=None, **kwargs):
        form_class = super().get_form(request, obj, **kwargs)
        refusal = getattr(request, "service_refusal", None)
        if refusal is None:
            return form_class

        class RefusedForm(form_class):
            def full_clean(self):
                super().full_clean()
                if self.is_bound:
                    show_refusal_on_form(self, refusal)

        return RefusedForm

    def delete_view(self, request, object_id, extra_context=None):
        try:
            return super().delete_view(request, object_id, extra_context)
        except ServiceError as error:
            if request.method != "POST":
                raise
            self.message_user(request, error.message, messages.ERROR)
            return HttpResponseRedirect(request.get_full_path())

    def changelist_view(self, request, extra_context=None):
        if request.method != "POST":
            return super().changelist_view(request, extra_context)
        # An action a refusal stops (or "delete selected") is undone whole, never left half-applied.
        try:
            with transaction.atomic(using=router.db_for_write(self.model)):
                return super().changelist_view(request, extra_context)
        except ServiceError as error:
            self.message_user(request, error.message, messages.ERROR)
            return HttpResponseRedirect(request.get_full_path())


class AgentChangeForm(UserChangeForm):
    class Meta:
        model = Agent
        fields = "__all__"

    def clean(self):
        cleaned = super().clean()
        reason = why_cannot_lose_owner(
            self.instance, role=cleaned.get("role", self.instance.role), is_active=cleaned.get("is_active", True)
        )
        if reason:
            raise ValidationError(reason)
        return cleaned


class AgentCreationForm(AdminUserCreationForm):
    class Meta:
        model = Agent
        fields = ("email", "name", "public_name", "role")

    def clean(self):
        cleaned = super().clean()
        if any(field not in cleaned for field in ("email", "name", "role")):
            return cleaned  # already refused on the field
        # The service's own checks (an email another agent has in any letter case, ...), shown on the
        # form rather than failing on save.
        try:
            services.agent_fields_clean(
                email=cleaned.get("email") or "", name=cleaned.get("name") or "", role=cleaned.get("role") or ""
            )
        except ServiceError as error:
            raise ValidationError({error.field: error.message} if error.field else error.message) from None
        return cleaned


@admin.register(Agent)
class AgentAdmin(ServiceRefusalsShown, UserAdmin):
    form = AgentChangeForm
    add_form = AgentCreationForm
    ordering = ["name"]
    list_display = ["name", "email", "role", "can_chat", "is_active", "status", "last_seen_at"]
    list_filter = ["role", "can_chat", "is_active", "status", "groups"]
    search_fields = ["name", "public_name", "email"]
    filter_horizontal = ["groups"]
    readonly_fields = ["last_seen_at", "date_joined", "last_login"]
    fieldsets = [
        (None, {"fields": ["email", "password"]}),
        (_("Profile"), {"fields": ["name", "public_name", "avatar", "language"]}),
        (_("Access"), {"fields": ["role", "can_chat", "is_active", "groups"]}),
        (_("Presence"), {"fields": ["status", "last_seen_at", "last_login", "date_joined"]}),
    ]
    add_fieldsets = [
        (
            None,
            {
                "classes": ["wide"],
                "fields": ["email", "name", "public_name", "role", "usable_password", "password1", "password2"],
            },
        ),
    ]
    actions = ["activate", "deactivate", "send_password_reset"]

    def save_model(self, request, obj, form, change):
        if not change:
            data = form.cleaned_data
            agent = services.agent_create(
                actor=request.user,
                email=data["email"],
                name=data["name"],
                public_name=data.get("public_name") or "",
                role=data["role"],
                # None: an unusable password, set by the agent through a password-reset email.
                password=data.get("password1") if data.get("set_usable_password") else None,
            )
            obj.pk = agent.pk
            obj.refresh_from_db()
            return
        # The form has applied the changes to `obj`; the service re-reads the agent and re-checks them.
        changes = {field: getattr(obj, field) for field in form.changed_data if field in services.AGENT_EDITABLE_FIELDS}
        services.agent_update(agent=obj, actor=request.user, **changes)

    def _set_active(self, request, queryset, can_chat: bool):
        for agent in queryset:
            try:
                services.agent_update(agent=agent, actor=request.user, can_chat=can_chat)
            except ServiceError as error:
                self.message_user(request, f"{agent}: {error.message}", messages.ERROR)

    @admin.action(description=_("Activate: can chat again"))
    def activate(self, request, queryset):
        self._set_active(request, queryset, True)

    @admin.action(description=_("Deactivate: can read but not chat"))
    def deactivate(self, request, queryset):
        self._set_active(request, queryset, False)

    @admin.action(description=_("Send a password reset email"))
    def send_password_reset(self, request, queryset):
        for agent in queryset:
            form = PasswordResetForm({"email": agent.email})
            if form.is_valid():
                form.save(request=request, use_https=request.is_secure())
        self.message_user(request, _("Password reset emails sent."))


@admin.register(AgentGroup)
class AgentGroupAdmin(admin.ModelAdmin):
    list_display = ["name", "member_count"]
    search_fields = ["name"]

    @admin.display(description=_("agents"))
    def member_count(self, group):
        return group.agents.count()


class ApiKeyForm(forms.ModelForm):
    class Meta:
        model = ApiKey
        fields = ["name", "agent", "read_only"]

    def clean_agent(self):
        agent = self.cleaned_data["agent"]
        if agent is not None and not agent.is_active:
            raise ValidationError(_("This agent cannot log in, so cannot have an API key."))
        return agent


@admin.register(ApiKey)
class ApiKeyAdmin(ServiceRefusalsShown, admin.ModelAdmin):
    form = ApiKeyForm
    list_display = ["name", "agent", "prefix", "read_only", "created_at", "last_used_at", "revoked_at"]
    list_filter = ["read_only", "revoked_at"]
    search_fields = ["name", "prefix", "agent__name", "agent__email"]
    fields = ["name", "agent", "read_only", "prefix", "created_at", "last_used_at", "revoked_at"]
    readonly_fields = ["prefix", "created_at", "last_used_at", "revoked_at"]
    actions = ["revoke"]

    def get_readonly_fields(self, request, obj=None):
        # A key's agent and rights are fixed at creation: a changed key would be a different key.
        return self.readonly_fields + (["agent", "read_only"] if obj else [])

    def save_model(self, request, obj, form, change):
        if change:
            obj.save(update_fields=["name"])
            return
        api_key, key = services.api_key_create(
            agent=obj.agent, name=obj.name, read_only=obj.read_only, actor=request.user
        )
        obj.pk, obj.prefix, obj.key_hash, obj.created_at = (
            api_key.pk,
            api_key.prefix,
            api_key.key_hash,
            api_key.created_at,
        )
        request.new_api_key = key

    def response_add(self, request, obj, post_url_continue=None):
        # The key is shown on this one page and kept nowhere: not in a message, a cookie or the session.
        context = {
            **self.admin_site.each_context(request),
            "api_key": obj,
            "key": request.new_api_key,
            "opts": self.opts,
        }
        return TemplateResponse(request, "admin/helpdesk/apikey/created.html", context)

    @admin.action(description=_("Revoke: stop the keys working"))
    def revoke(self, request, queryset):
        for api_key in queryset:
            services.api_key_revoke(api_key=api_key, actor=request.user)
        self.message_user(request, _("Keys revoked."))


class AccountForm(forms.ModelForm):
    class Meta:
        model = Account
        fields = ["name", "allowed_origins", "recording_enabled", "recording_retention_days"]

    def clean_allowed_origins(self):
        try:
            return services.clean_allowed_origins(self.cleaned_data["allowed_origins"])
        except ServiceError as error:
            raise ValidationError(error.message) from None


@admin.register(Account)
class AccountAdmin(ServiceRefusalsShown, admin.ModelAdmin):
    """The one row of account settings: the chat box snippet, allowed websites, identity secret, recordings."""

    form = AccountForm
    fieldsets = [
        (None, {"fields": ["name"]}),
        (_("Chat box"), {"fields": ["snippet", "allowed_origins"]}),
        (_("Identity verification"), {"fields": ["identity_secret_display"]}),
        (_("Recordings of visits"), {"fields": ["recording_enabled", "recording_retention_days"]}),
    ]
    readonly_fields = ["snippet", "identity_secret_display"]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def changelist_view(self, request, extra_context=None):
        return redirect("admin:helpdesk_account_change", Account.load().pk)

    @admin.display(description=_("snippet for your website"))
    def snippet(self, account):
        # The widget belongs to conversations, which depends on this app: imported where it is used.
        from conversations.widget import snippet

        return format_html(
            '<textarea readonly rows="4" cols="100" onclick="this.select()" aria-label="{}">{}</textarea><p>{}</p>',
            _("snippet"),
            snippet(settings.SITE_URL),
            _("Paste it into every page of your website, before </body>. Try it on the demo page: /demo/."),
        )

    @admin.display(description=_("identity verification secret"))
    def identity_secret_display(self, account):
        return format_html(
            '<code>{}</code> <button type="submit" name="_regenerate_secret" class="button">{}</button><p>{}</p>',
            masked(account.identity_secret),
            _("Regenerate"),
            _(
                "Your website's server signs a logged-in customer's id with this secret: "
                "hash = HMAC-SHA256(secret, id), hex. It is shown in full once, when it is made: regenerating "
                "it shows the new one and makes the old hashes invalid."
            ),
        )

    def save_model(self, request, obj, form, change):
        services.account_update(actor=request.user, **{field: form.cleaned_data[field] for field in form.changed_data})
        if "_regenerate_secret" in request.POST:
            account = services.account_regenerate_identity_secret(actor=request.user)
            request.new_identity_secret = account.identity_secret

    def response_change(self, request, obj):
        if secret := getattr(request, "new_identity_secret", None):
            return secret_shown_once(
                request,
                self.admin_site,
                title=_("New identity verification secret"),
                secret=secret,
                explanation=_("Put it on your website's server: hashes made with the old secret no longer work."),
                done_url=reverse("admin:helpdesk_account_change", args=[obj.pk]),
            )
        return super().response_change(request, obj)
