"""The dashboard's conversation screens: thin adapters over the selectors and services.

Pages render whole; htmx requests get the partial they replace. Every action is a POST that calls one
service; a refusal (ServiceError) becomes a 4xx carrying the reason, shown where the action was.
"""

from functools import wraps

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse, QueryDict
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import reswap, retarget

from helpdesk.errors import ServiceError
from helpdesk.models import Agent, AgentGroup
from helpdesk.views import shell_context, visitor_states_of
from visitors.presence import LEFT, visitor_state
from visitors.views import card_context

from . import events, permissions, selectors, services
from .filters import ConversationFilter
from .models import Channel, Message, Tag

# The search form's fields are the shared FilterSet's own parameters (the REST API takes the same).
SEARCH_FIELDS = tuple(ConversationFilter.parameters())

# The search form's labels, so a refused filter is named the way the agent saw it.
SEARCH_LABELS = {
    "q": gettext_lazy("Search"),
    "rating": gettext_lazy("Rating"),
    "rating_min": gettext_lazy("Rating at least"),
    "rating_max": gettext_lazy("Rating at most"),
    "agent": gettext_lazy("Agent"),
    "group": gettext_lazy("Group"),
    "tag": gettext_lazy("Tags"),
    "tag_match": gettext_lazy("Match"),
    "url": gettext_lazy("Website URL contains"),
    "ip": gettext_lazy("IP address (or range, e.g. 203.0.113.0/24)"),
    "created_after": gettext_lazy("Started after"),
    "created_before": gettext_lazy("Started before"),
    "resolved_after": gettext_lazy("Resolved after"),
    "resolved_before": gettext_lazy("Resolved before"),
    "channel": gettext_lazy("Channel"),
    "status": gettext_lazy("Status"),
    "visitor": gettext_lazy("Visitor id"),
}


def refusal(request, error: ServiceError) -> HttpResponse:
    """The reason, with the status the code stands for, shown in the dashboard's message area."""
    response = render(request, "conversations/_refusal.html", {"error": error}, status=error.http_status)
    if request.htmx:
        response = reswap(retarget(response, "#flash"), "innerHTML")
    return response


def answers_refusals(view):
    @wraps(view)
    def wrapper(request, *args, **kwargs):
        try:
            return view(request, *args, **kwargs)
        except ServiceError as error:
            return refusal(request, error)

    return wrapper


def _conversation(request, pk: int):
    return selectors.conversation_for_agent(agent=request.user, conversation_id=pk)


def _cursor(request, name: str = "before") -> str | None:
    return request.GET.get(name) or None


def _int(request, name: str, source=None) -> int | None:
    value = (source if source is not None else request.GET).get(name)
    if value in (None, ""):
        return None
    if not str(value).isdigit():
        raise ServiceError(_("%(field)s must be a whole number.") % {"field": name}, field=name)
    return int(value)


# --- The list on the left --------------------------------------------------------------------------


@login_required
@require_GET
@answers_refusals
def inbox_list(request):
    """One page of a tab's rows (the next page comes when the last row scrolls into view)."""
    tab = request.GET.get("tab", selectors.ALL)
    if tab == "resolved":
        page = selectors.resolved_page(request.user, cursor=_cursor(request), size=settings.DASHBOARD_PAGE_SIZE)
    else:
        page = selectors.inbox_page(request.user, tab, cursor=_cursor(request), size=settings.DASHBOARD_PAGE_SIZE)
    return render(
        request,
        "conversations/_rows.html",
        {"conversations": page.rows, "page": page, "tab": tab, "states": visitor_states_of(page.rows)},
    )


@login_required
@require_GET
def inbox_tabs(request):
    """The tabs with their live counts."""
    context = {
        "tabs": [(name, count) for name, count in selectors.inbox_counts(request.user).items()],
        "tab": request.GET.get("tab", selectors.ALL),
    }
    return render(request, "conversations/_tabs.html", context)


@login_required
@require_GET
@answers_refusals
def conversation_row(request, pk: int):
    """One row as the list shows it now, or nothing (204) when it no longer belongs in the tab."""
    tab = request.GET.get("tab", selectors.ALL)
    if not selectors.tab_contains(request.user, tab, pk):
        return HttpResponse(status=204)
    conversation = selectors.inbox_row(request.user, pk)
    return render(
        request,
        "conversations/_row.html",
        {"conversation": conversation, "tab": tab, "states": visitor_states_of([conversation])},
    )


# --- The conversation in the centre ----------------------------------------------------------------


def email_context(conversation) -> dict:
    """On a website chat, answering by email is offered once the visitor has left the website and their
    address is known; when it is not, the visitor card says why (the email channel's reply check)."""
    if conversation.channel != Channel.WEB or not events.has_deliverer(Channel.EMAIL):
        return {"email_possible": False, "email_refusal": None}
    refusal = events.reply_refusal(conversation, Channel.EMAIL)
    return {"email_possible": refusal is None, "email_refusal": refusal}


def composer_context(agent: Agent, conversation) -> dict:
    """What the composer needs: whether it may send, and whether it offers email."""
    reply = permissions.why_cannot_reply(agent, conversation)
    # What stops the composer: the agent's own rights first, then the conversation's channel (a
    # Messenger window that closed, a page that was disconnected).
    channel = None if conversation.channel == Channel.WEB else events.reply_refusal(conversation, conversation.channel)
    return {
        "conversation": conversation,
        "visitor_left": visitor_state(conversation.visitor_id) == LEFT,
        **email_context(conversation),
        "reasons": {"reply": reply, "send": reply or channel},
    }


def conversation_context(agent: Agent, conversation) -> dict:
    context = composer_context(agent, conversation)
    context["reasons"] |= {
        "join": permissions.why_cannot_join(agent, conversation),
        "resolve": permissions.why_cannot_resolve(agent, conversation),
        "transfer": permissions.why_cannot_transfer(agent, conversation),
    }
    return context | {
        "thread": selectors.thread_items(conversation),
        "agents": Agent.objects.filter(is_active=True, can_chat=True).exclude(pk=conversation.assignee_id),
        "groups": AgentGroup.objects.all(),
        "tags": list(conversation.tags.all()),
        "all_tags": Tag.objects.all(),
    }


@login_required
@require_GET
@answers_refusals
def conversation_page(request, pk: int):
    """A conversation: its header, the last messages and the composer, with the visitor's card. As a
    page it is the whole dashboard with this conversation open; for htmx the centre and the card."""
    conversation = _conversation(request, pk)
    context = conversation_context(request.user, conversation) | card_context(request.user, conversation.visitor)
    if context["thread"].newest_message_id:
        services.conversation_mark_read(
            conversation=conversation, agent=request.user, message_id=context["thread"].newest_message_id
        )
    if request.htmx:
        return render(request, "conversations/_open.html", context)
    return render(request, "helpdesk/dashboard.html", shell_context(request) | context)


@login_required
@require_GET
@answers_refusals
def conversation_header(request, pk: int):
    conversation = _conversation(request, pk)
    return render(request, "conversations/_header.html", conversation_context(request.user, conversation))


@login_required
@require_GET
@answers_refusals
def conversation_card(request, pk: int):
    """The visitor card beside this conversation (refreshed live): the card plus what only the
    conversation knows, such as why the visitor cannot be answered by email."""
    conversation = _conversation(request, pk)
    return render(
        request, "visitors/_card.html", card_context(request.user, conversation.visitor) | email_context(conversation)
    )


@login_required
@require_GET
@answers_refusals
def conversation_email_option(request, pk: int):
    """The composer's "Send as email" as it is now (an agent just typed the visitor's address)."""
    conversation = _conversation(request, pk)
    return render(request, "conversations/_email_option.html", composer_context(request.user, conversation))


@login_required
@require_GET
@answers_refusals
def conversation_message(request, pk: int, message_id: int):
    """One message as the thread shows it now: its delivery state changes live (sent, failed and why)."""
    conversation = _conversation(request, pk)
    message = Message.objects.filter(conversation=conversation, pk=message_id).select_related("agent").first()
    if message is None:
        raise ServiceError(_("There is no such message."), code="not_found", field="message_id")
    selectors.with_files([message])
    return render(request, "conversations/_message.html", {"conversation": conversation, "message": message})


@login_required
@require_GET
@answers_refusals
def conversation_thread(request, pk: int):
    """Older messages (`before`, on scroll up) or what came after the dashboard's last message and
    history event (`after`, `after_event`: live updates and catching up after a reconnect)."""
    conversation = _conversation(request, pk)
    after, after_event = _int(request, "after"), _int(request, "after_event")
    if after is not None or after_event is not None:
        thread = selectors.thread_items(conversation, after_message_id=after or 0, after_event_id=after_event or 0)
        template = "conversations/_thread_items.html"
    else:
        thread = selectors.thread_items(conversation, before_message_id=_int(request, "before"))
        template = "conversations/_thread_page.html"
    return render(request, template, {"conversation": conversation, "thread": thread})


# --- Actions -----------------------------------------------------------------------------------------


def _after_action(request, conversation) -> HttpResponse:
    """Where the action was clicked: a list row is re-rendered (or removed), else the header."""
    conversation = _conversation(request, conversation.pk)
    if request.POST.get("from") == "list":
        tab = request.POST.get("tab", selectors.ALL)
        if not selectors.tab_contains(request.user, tab, conversation.pk):
            return HttpResponse("")
        row = selectors.inbox_row(request.user, conversation.pk)
        return render(
            request, "conversations/_row.html", {"conversation": row, "tab": tab, "states": visitor_states_of([row])}
        )
    return render(request, "conversations/_header.html", conversation_context(request.user, conversation))


def conversation_action(service):
    @login_required
    @require_POST
    @answers_refusals
    def view(request, pk: int):
        conversation = _conversation(request, pk)
        service(conversation=conversation, actor=request.user)
        return _after_action(request, conversation)

    view.__name__ = service.__name__
    return view


conversation_join = conversation_action(services.conversation_join)
conversation_resolve = conversation_action(services.conversation_resolve)
conversation_reopen = conversation_action(services.conversation_reopen)


@login_required
@require_POST
@answers_refusals
def conversation_transfer(request, pk: int):
    """To an agent (`agent`) or to a group (`group`)."""
    conversation = _conversation(request, pk)
    agent_id, group_id = _int(request, "agent", request.POST), _int(request, "group", request.POST)
    agent = Agent.objects.filter(pk=agent_id).first() if agent_id else None
    group = AgentGroup.objects.filter(pk=group_id).first() if group_id else None
    if agent_id and agent is None:
        raise ServiceError(_("There is no such agent."), field="agent")
    if group_id and group is None:
        raise ServiceError(_("There is no such group."), field="group")
    services.conversation_transfer(conversation=conversation, actor=request.user, agent=agent, group=group)
    return _after_action(request, conversation)


@login_required
@require_POST
@answers_refusals
def conversation_tag(request, pk: int):
    conversation = _conversation(request, pk)
    tag = services.tag_get_or_create(name=request.POST.get("name", ""), actor=request.user)
    services.conversation_tag(conversation=conversation, tag=tag, actor=request.user)
    return _after_action(request, conversation)


@login_required
@require_POST
@answers_refusals
def conversation_untag(request, pk: int):
    conversation = _conversation(request, pk)
    tag = Tag.objects.filter(pk=_int(request, "tag", request.POST) or 0).first()
    if tag is None:
        raise ServiceError(_("There is no such tag."), field="tag")
    services.conversation_untag(conversation=conversation, tag=tag, actor=request.user)
    return _after_action(request, conversation)


@login_required
@require_POST
@answers_refusals
def conversation_read(request, pk: int):
    """The dashboard showed the conversation up to `message_id`: those messages are no longer unread."""
    conversation = _conversation(request, pk)
    services.conversation_mark_read(
        conversation=conversation, agent=request.user, message_id=_int(request, "message_id", request.POST)
    )
    return HttpResponse(status=204)


# --- Resolved: list, Search and Advanced search ------------------------------------------------------


@login_required
@require_GET
@answers_refusals
def resolved_search(request):
    """The Resolved tab with its search form. The filters live in the URL, so a search can be
    bookmarked and shared; the search itself is the FilterSet the REST API uses too."""
    params = request.GET
    # Only the filters the agent filled in: an empty form field is no filter, and paging is not one.
    filters = QueryDict(mutable=True)
    for name in SEARCH_FIELDS:
        if values := [value for value in params.getlist(name) if value]:
            filters.setlist(name, values)
    searching = bool(filters)
    if searching and "status" not in filters:
        filters["status"] = "resolved"  # the search of the Resolved tab, unless the agent chose a status
    error = None
    if searching:
        try:
            offset = _int(request, "offset") or 0
            size = settings.DASHBOARD_PAGE_SIZE
            found = list(
                selectors.with_row_details(
                    selectors.conversation_search(agent=request.user, params=filters), request.user
                )[offset : offset + size + 1]
            )
        except ServiceError as refused:
            if request.htmx:
                raise
            # A whole page keeps the form with what the agent typed, and names the filter at fault.
            error, found, offset, size = refused, [], 0, 0
        rows, next_offset = found[:size], (offset + size if len(found) > size else None)
        next_query = params.copy()
        if next_offset is not None:
            next_query["offset"] = next_offset
        next_url = f"?{next_query.urlencode()}" if next_offset is not None else None
    else:
        page = selectors.resolved_page(request.user, cursor=_cursor(request), size=settings.DASHBOARD_PAGE_SIZE)
        rows = page.rows
        next_url = f"?before={page.next_cursor}" if page.next_cursor else None
    context = shell_context(request, tab="resolved", with_list=False) | {
        "conversations": rows,
        "next_url": next_url,
        "states": visitor_states_of(rows),
        "params": params,
        "searching": searching,
        "advanced": params.get("advanced") == "1" or any(params.get(f) for f in SEARCH_FIELDS if f != "q"),
        "agents": Agent.objects.all(),
        "groups": AgentGroup.objects.all(),
        "all_tags": Tag.objects.all(),
        "chosen_tags": params.getlist("tag"),
        "error": error,
        "error_label": SEARCH_LABELS.get(error.field, error.field) if error else None,
    }
    if request.htmx and request.GET.get("rows") == "1":
        return render(request, "conversations/_search_rows.html", context)
    return render(request, "conversations/resolved.html", context, status=error.http_status if error else 200)
