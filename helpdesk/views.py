from django.contrib.auth.decorators import login_required
from django.http import JsonResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from conversations import selectors as conversation_selectors

from .health import check_channel_layer, check_database


@never_cache
@require_GET
def healthz(request):
    problems = {"database": check_database(), "channel_layer": check_channel_layer()}
    body = {name: problem or "ok" for name, problem in problems.items()}
    body["status"] = "ok" if not any(problems.values()) else "failing"
    return JsonResponse(body, status=200 if body["status"] == "ok" else 503)


@login_required
def dashboard(request):
    """The agent's inbox: the Open subcategories with their counts, and the conversations of one."""
    tabs = conversation_selectors.inbox_tabs()
    tab = request.GET.get("tab", tabs[0])
    if tab not in tabs:
        tab = tabs[0]
    counts = conversation_selectors.inbox_counts(request.user)
    conversations = conversation_selectors.inbox_conversations(request.user, tab)[:50]
    return render(
        request,
        "helpdesk/dashboard.html",
        {"tabs": [(name, counts[name]) for name in tabs], "tab": tab, "conversations": conversations},
    )
