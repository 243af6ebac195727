"""Small template helpers of the dashboard; the rules they show come from `conversations.permissions`."""

from django import template
from django.utils.translation import gettext as _

from conversations import permissions

register = template.Library()


@register.simple_tag
def resolve_refusal(agent, conversation) -> str:
    """Why the agent may not resolve this conversation, or "" (no query: the row has what it needs)."""
    return permissions.why_cannot_resolve(agent, conversation) or ""


@register.filter
def lookup(mapping, key):
    return (mapping or {}).get(key)


@register.simple_tag
def row_state(conversation, states) -> str:
    """new, chatting or left: what the visitor of an open conversation is doing (typing is live only)."""
    if (states or {}).get(conversation.visitor_id, "left") == "left":
        return "left"
    return "new" if conversation.assignee_id is None else "chatting"


@register.simple_tag
def state_label(state: str) -> str:
    return {
        "new": _("New"),
        "chatting": _("Chatting"),
        "left": _("Left the website"),
        "typing": _("Typing…"),
        "online": _("On the website"),
        "idle": _("Idle"),
    }.get(state, state)
