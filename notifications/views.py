"""The agent's email notification settings, a section of the dashboard's personal settings page.

The settings page loads this section by URL (htmx), so `helpdesk` never imports `notifications`.
"""

from django.contrib.auth.decorators import login_required
from django.shortcuts import get_object_or_404, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from helpdesk.models import Agent

from . import permissions
from .forms import NotificationSettingsForm


@login_required
@require_http_methods(["GET", "POST"])
def notification_settings(request):
    """Both notifications on or off, for the signed-in agent (or, for the owner, the agent named by
    `?agent=`); saving goes through the form's service, which refuses anyone else."""
    agent = request.user
    if agent_id := request.GET.get("agent"):
        if not agent_id.isdigit():
            return _section(request, None, error=_("agent must be a whole number."), status=400)
        agent = get_object_or_404(Agent, pk=int(agent_id))
    if reason := permissions.why_cannot_change_settings(request.user, agent):
        return _section(request, None, error=reason, status=403)
    form = NotificationSettingsForm(request.POST if request.method == "POST" else None, agent=agent)
    saved = request.method == "POST" and form.is_valid() and form.save(actor=request.user) is not None
    return _section(request, form, saved=saved, status=400 if form.errors else 200)


def _section(request, form, *, saved: bool = False, error: str | None = None, status: int = 200):
    context = {"form": form, "saved": saved, "error": error, "query": request.GET.urlencode()}
    return render(request, "notifications/_settings.html", context, status=status)
