from django import forms
from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.http import JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse_lazy
from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from conversations import selectors as conversation_selectors

from . import selectors, services
from .errors import ServiceError
from .health import check_channel_layer, check_database
from .models import Agent


@never_cache
@require_GET
def healthz(request):
    problems = {"database": check_database(), "channel_layer": check_channel_layer()}
    body = {name: problem or "ok" for name, problem in problems.items()}
    body["status"] = "ok" if not any(problems.values()) else "failing"
    return JsonResponse(body, status=200 if body["status"] == "ok" else 503)


def colleagues(agent: Agent) -> dict[str, int]:
    """How many colleagues (not counting the agent) are online and offline."""
    online = selectors.agents_online().exclude(pk=agent.pk).count()
    everyone = Agent.objects.filter(is_active=True).exclude(pk=agent.pk).count()
    return {"online": online, "offline": everyone - online}


def shell_context(request, *, tab: str | None = None, with_list: bool = True) -> dict:
    """What the dashboard's left column shows: status, colleagues, the tabs with counts, one list page."""
    from django.conf import settings

    agent = request.user
    tabs = conversation_selectors.inbox_tabs()
    tab = tab or request.GET.get("tab") or tabs[0]
    if tab not in (*tabs, "resolved"):
        tab = tabs[0]
    counts = conversation_selectors.inbox_counts(agent)
    if not with_list:
        page = conversation_selectors.Page(rows=[], next_cursor=None)
    elif tab == "resolved":
        page = conversation_selectors.resolved_page(agent, size=settings.DASHBOARD_PAGE_SIZE)
    else:
        page = conversation_selectors.inbox_page(agent, tab, size=settings.DASHBOARD_PAGE_SIZE)
    return {
        "tabs": [(name, counts[name]) for name in tabs],
        "tab": tab,
        "page": page,
        "conversations": page.rows,
        "colleagues": colleagues(agent),
        "states": visitor_states_of(page.rows),
    }


def visitor_states_of(conversations) -> dict[int, str]:
    from visitors.presence import visitor_states

    return visitor_states([conversation.visitor_id for conversation in conversations])


@login_required
def dashboard(request):
    """The agent's dashboard: the conversation list on the left; a conversation opens in the centre."""
    return render(request, "helpdesk/dashboard.html", shell_context(request))


@login_required
@require_GET
def presence_panel(request):
    """My status switch and the colleagues online and offline (refreshed on each heartbeat)."""
    return render(request, "helpdesk/_presence.html", {"colleagues": colleagues(request.user)})


@login_required
@require_POST
def status_set(request):
    try:
        services.agent_set_status(agent=request.user, status=request.POST.get("status", ""))
    except ServiceError as error:
        return render(request, "helpdesk/_error.html", {"error": error}, status=error.http_status)
    return render(request, "helpdesk/_presence.html", {"colleagues": colleagues(request.user)})


class ProfileForm(forms.Form):
    name = forms.CharField(label=gettext_lazy("Dashboard name"), max_length=100)
    public_name = forms.CharField(
        label=gettext_lazy("Public name"), max_length=100, required=False, help_text=gettext_lazy("Shown to visitors.")
    )
    avatar = forms.ImageField(label=gettext_lazy("Avatar"), required=False)
    language = forms.ChoiceField(label=gettext_lazy("Language"), choices=Agent._meta.get_field("language").choices)


@login_required
def settings_page(request):
    """The agent's own profile: names, avatar, language (the password has its own page)."""
    agent = request.user
    if request.method == "POST":
        form = ProfileForm(request.POST, request.FILES)
        if form.is_valid():
            changes = {key: value for key, value in form.cleaned_data.items() if key != "avatar"}
            if form.cleaned_data.get("avatar"):
                changes["avatar"] = form.cleaned_data["avatar"]
            try:
                services.agent_update(agent=agent, actor=agent, **changes)
            except ServiceError as error:
                form.add_error(error.field if error.field in form.fields else None, error.message)
            else:
                translation.activate(changes["language"])  # say it in the language just chosen
                messages.success(request, _("Your settings are saved."))
                return redirect("settings")
    else:
        form = ProfileForm(initial={"name": agent.name, "public_name": agent.public_name, "language": agent.language})
    return render(request, "helpdesk/settings.html", {"form": form}, status=400 if form.errors else 200)


class PasswordChangeView(auth_views.PasswordChangeView):
    template_name = "helpdesk/password_change.html"
    success_url = reverse_lazy("settings")

    def form_valid(self, form):
        messages.success(self.request, _("Your password is changed."))
        return super().form_valid(form)


password_reset = auth_views.PasswordResetView.as_view(
    template_name="helpdesk/password_reset_form.html",
    email_template_name="helpdesk/password_reset_email.txt",
    subject_template_name="helpdesk/password_reset_subject.txt",
)
password_reset_done = auth_views.PasswordResetDoneView.as_view(template_name="helpdesk/password_reset_done.html")
password_reset_confirm = auth_views.PasswordResetConfirmView.as_view(
    template_name="helpdesk/password_reset_confirm.html"
)
password_reset_complete = auth_views.PasswordResetCompleteView.as_view(
    template_name="helpdesk/password_reset_complete.html"
)
