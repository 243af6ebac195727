"""The event hub.

Services publish plain, JSON-able events (`{"type": "message.created", ...}`); subscribers hear them
only after the transaction commits, so nobody learns of a change that was rolled back. The realtime
fan-out, notifications and outbound webhooks subscribe; the apps that publish never import them.
It lives in the account core so that every app (visitors as well as conversations) can publish.
"""

import logging
from collections.abc import Callable
from functools import partial

from django.db import transaction

logger = logging.getLogger(__name__)

Event = dict
_subscribers: list[Callable[[Event], None]] = []


def subscribe(handler: Callable[[Event], None]) -> Callable[[Event], None]:
    """Call `handler(event)` after commit for every published event; usable as a decorator."""
    if handler not in _subscribers:
        _subscribers.append(handler)
    return handler


def unsubscribe(handler: Callable[[Event], None]) -> None:
    if handler in _subscribers:
        _subscribers.remove(handler)


def publish(event: Event) -> None:
    transaction.on_commit(partial(_dispatch, event))


def _dispatch(event: Event) -> None:
    for handler in list(_subscribers):
        try:
            handler(event)
        except Exception:  # one broken subscriber must not starve the others
            logger.exception("Event subscriber %r failed on %s", handler, event.get("type"))
