"""The two websocket endpoints: the visitor's chat box and the agent's dashboard.

One JSON protocol: every frame is an object with a `type` ("<noun>.<verb>"). Consumers are thin: they
check the frame's shape, call a service or selector, and answer. Anything wrong with a frame gets an
`error` frame saying what (`code`, `message`, `field`, and `ref`: the frame's client id or type) and the
connection stays open. Events from the rest of the system arrive through the channel groups of
`conversations.realtime` as `frame.send` messages and are passed on as they are.
"""

import asyncio
import contextlib
import json
import logging
import time
from urllib.parse import urlsplit

from channels.consumer import get_handler_name
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings
from django.utils.translation import gettext as _
from uvicorn.protocols.utils import ClientDisconnected

from helpdesk import selectors as account_selectors
from helpdesk import services as account_services
from helpdesk.asyncdb import db
from helpdesk.errors import ServiceError
from helpdesk.models import Account, AgentGroup
from helpdesk.permissions import website_may_connect
from visitors import services as visitor_services

from . import permissions, realtime, selectors, services
from .models import Channel, Conversation, ConversationEvent, Message

logger = logging.getLogger(__name__)

MAX_FRAME_CHARS = 64_000
CATCH_UP_LIMIT = 500
NOT_ALLOWED_ORIGIN = 4003
NOT_AUTHENTICATED = 4001
# A visitor is idle after VISITOR_IDLE_AFTER (ten minutes by default) without doing anything; a chat
# box records their activity at most this often, not on every message and keystroke.
ACTIVITY_RECORD_SECONDS = 30
# A dashboard's frames being handled or waiting for their turn; beyond this it reads no more of them.
DASHBOARD_FRAMES_AT_ONCE = 16


class RateLimiter:
    """A token bucket: `burst` frames at once, then `per_second`."""

    def __init__(self, burst: int, per_second: float):
        self.capacity = burst
        self.tokens = float(burst)
        self.per_second = per_second
        self.updated = time.monotonic()

    def allow(self) -> bool:
        now = time.monotonic()
        self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.per_second)
        self.updated = now
        if self.tokens < 1:
            return False
        self.tokens -= 1
        return True


def header(scope, name: bytes) -> str:
    for key, value in scope.get("headers", []):
        if key == name:
            return value.decode("latin-1")
    return ""


def origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower() if parts.scheme and parts.netloc else ""


def is_same_origin(scope) -> bool:
    """The page that opened the socket was served by this helpdesk (the chat box frame, the dashboard)."""
    origin = urlsplit(header(scope, b"origin"))
    return bool(origin.netloc) and origin.netloc.lower() == header(scope, b"host").lower()


def client_ip(scope) -> str | None:
    if settings.TRUSTED_PROXY_HEADER:
        forwarded = header(scope, settings.TRUSTED_PROXY_HEADER.lower().encode())
        if forwarded:
            # The proxy appends the address it saw; anything before it came from the client.
            return forwarded.split(",")[-1].strip() or None
    client = scope.get("client")
    return client[0] if client else None


def required(frame: dict, field: str, kind: type | tuple[type, ...]):
    value = frame.get(field)
    if value is None or (isinstance(value, bool) and kind is not bool) or not isinstance(value, kind):
        raise ServiceError(_("%(field)s is missing or of the wrong type.") % {"field": field}, field=field)
    return value


def optional_id(frame: dict, field: str) -> int | None:
    value = frame.get(field)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ServiceError(_("%(field)s must be a whole number.") % {"field": field}, field=field)
    return value


def message_frames(conversation_id: int, after_id: int | None, *, public: bool, limit: int = CATCH_UP_LIMIT):
    from .events import message_payload

    messages = Message.objects.filter(conversation_id=conversation_id).select_related("agent")
    if after_id is not None:
        messages = messages.filter(id__gt=after_id).order_by("id")[:limit]
    else:
        messages = reversed(messages.order_by("-id")[:50])
    frames = [message_payload(message) for message in messages]
    if public:
        return [realtime.message_for_visitor(frame) for frame in frames]
    return frames


class Lanes:
    """Runs a socket's frames side by side, one after another within a lane (a conversation), at most
    `limit` of them accepted and not done; `run` waits for a place beyond that."""

    def __init__(self, limit: int):
        self._places = asyncio.Semaphore(limit)
        self._last: dict = {}  # lane -> the task of the lane's latest frame
        self._tasks: set[asyncio.Task] = set()

    async def run(self, lane, handler, *args):
        """Start `handler(*args)` once the lane's earlier frames are done."""
        await self._places.acquire()
        task = asyncio.create_task(self._after(self._last.get(lane), handler, args))
        self._last[lane] = task
        self._tasks.add(task)
        task.add_done_callback(lambda done: self._done(lane, done))

    @staticmethod
    async def _after(earlier: asyncio.Task | None, handler, args):
        if earlier is not None:
            await asyncio.wait([earlier])
        await handler(*args)

    def _done(self, lane, task: asyncio.Task):
        self._tasks.discard(task)
        self._places.release()
        if self._last.get(lane) is task:
            del self._last[lane]

    async def finish(self):
        """Wait until every frame accepted is done."""
        while self._tasks:
            await asyncio.wait(set(self._tasks))


class JsonProtocolConsumer(AsyncWebsocketConsumer):
    """Parsing, dispatch and error frames shared by both endpoints."""

    handlers: dict[str, str] = {}
    groups_renewed_at = 0.0  # time.time() of the oldest membership among the socket's groups

    async def dispatch(self, message):
        # Channels closes stale database connections before every message a consumer handles, on the
        # process's one thread-sensitive thread: a hop through that single thread for each frame and
        # each event, for every socket, where no database work of ours runs (`db` keeps its threads'
        # connections itself). Under load that one thread queued the whole process's events.
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)

    async def receive(self, text_data=None, bytes_data=None):
        try:
            frame = self._parse(text_data)
        except ServiceError as error:
            with contextlib.suppress(ClientDisconnected):
                await self.send_error(error, None)
            return
        await self.handle(frame)

    async def handle(self, frame: dict):
        """Run the frame's handler; whatever goes wrong is answered with an error frame."""
        try:
            await getattr(self, self.handlers[frame["type"]])(frame)
        except ServiceError as error:
            await self.send_error(error, frame)
        except ClientDisconnected:
            pass  # the socket closed while its frame was handled: the work is stored, the answer has no reader
        except Exception:
            logger.exception("Websocket frame failed: %s", frame["type"])
            await self.send_error(ServiceError(_("Something went wrong on our side; try again.")), frame, code="server")

    def _parse(self, text_data) -> dict:
        if text_data is None:
            raise ServiceError(_("Send JSON text frames, not binary ones."))
        if len(text_data) > MAX_FRAME_CHARS:
            raise ServiceError(_("The frame is larger than %(limit)d characters.") % {"limit": MAX_FRAME_CHARS})
        try:
            frame = json.loads(text_data)
        except ValueError:
            raise ServiceError(_("The frame is not valid JSON.")) from None
        if not isinstance(frame, dict) or not isinstance(frame.get("type"), str):
            raise ServiceError(_("A frame is a JSON object with a type."), field="type")
        if frame["type"] not in self.handlers:
            raise ServiceError(_("Unknown frame type %(type)s.") % {"type": frame["type"][:50]}, field="type")
        return frame

    async def send_error(self, error: ServiceError, frame: dict | None, code: str | None = None):
        body = {"type": "error", **error.as_dict()}
        if code:
            body["code"] = code
        if isinstance(frame, dict):
            body["ref"] = frame.get("client_id") if isinstance(frame.get("client_id"), str) else frame.get("type")
        await self.send_json(body)

    async def send_json(self, content: dict):
        await self.send(text_data=realtime.encode(content))

    async def frame_send(self, event):
        """A frame from the live fan-out (`conversations.realtime.frame_message`), encoded already."""
        await self.send(text_data=event["text"])

    async def join(self, *groups: str):
        if not self.groups:
            self.groups_renewed_at = time.time()
        for group in groups:
            await self.channel_layer.group_add(group, self.channel_name)
            self.groups.append(group)

    async def leave(self, *groups: str):
        for group in groups:
            await self.channel_layer.group_discard(group, self.channel_name)
            if group in self.groups:
                self.groups.remove(group)

    async def renew_groups(self):
        """Group membership expires in the layer (`group_expiry`, a day): a socket open that long renews
        its groups every quarter of it. Not on every ping: 10,000 chat boxes ping 500 times a second,
        and renewing took a third of a ping's CPU."""
        if time.time() - self.groups_renewed_at < self.channel_layer.group_expiry / 4:
            return
        self.groups_renewed_at = time.time()
        for group in list(self.groups):
            await self.channel_layer.group_add(group, self.channel_name)


class VisitorConsumer(JsonProtocolConsumer):
    """The chat box. A visitor only ever sees their own conversations: everything here is reached
    through the visitor this connection said hello as."""

    handlers = {
        "visitor.hello": "hello",
        "ping": "ping",
        "message.send": "message_send",
        "typing.update": "typing_update",
        "page.view": "page_view",
        "visitor.update": "visitor_update",
        "visitor.variables": "visitor_variables",
        "visitor.identify": "visitor_identify",
        "visitor.group": "visitor_group",
        "offline.message": "offline_message",
        "conversation.rate": "conversation_rate",
    }

    async def connect(self):
        self.groups = []
        self.visitor = None
        self.page_url = ""
        self.group_id = None
        self.activity_recorded_at = float("-inf")
        self.limiter = RateLimiter(settings.CHAT_RATE_BURST, settings.CHAT_RATE_PER_SECOND)
        if not await db(self._origin_allowed)():
            await self.close(code=NOT_ALLOWED_ORIGIN)
            return
        await self.accept()

    def _origin_allowed(self) -> bool:
        return website_may_connect(header(self.scope, b"origin"), header(self.scope, b"host"))

    async def disconnect(self, code):
        for group in list(self.groups):
            await self.channel_layer.group_discard(group, self.channel_name)
        if self.visitor is not None:
            await db(self._leave)()

    def _leave(self):
        from visitors.tasks import settle_departure

        remaining = visitor_services.visitor_disconnect(visitor_id=self.visitor.pk, connection=self.channel_name)
        if not remaining:
            settle_departure.apply_async((self.visitor.pk,), countdown=settings.VISITOR_LEFT_GRACE)

    def _parse(self, text_data) -> dict:
        frame = super()._parse(text_data)
        if self.visitor is None and frame["type"] not in ("visitor.hello", "ping"):
            raise ServiceError(_("Say visitor.hello first."), code="conflict", field="type")
        return frame

    # --- frames ---------------------------------------------------------------------------------

    async def hello(self, frame):
        if self.visitor is not None:
            raise ServiceError(_("This connection has already said hello."), code="conflict", field="type")
        token = frame.get("token")
        last_message_id = optional_id(frame, "last_message_id")
        self.group_id = await db(self._routing_group)(frame.get("group"))
        self.visitor = await db(visitor_services.visitor_arrive)(
            key=token if isinstance(token, str) else None,
            connection=self.channel_name,
            ip_address=client_ip(self.scope),
            user_agent=header(self.scope, b"user-agent"),
        )
        self.activity_recorded_at = time.monotonic()  # arriving counts as activity
        await self.join(realtime.visitor_group(self.visitor.pk))
        page, page_error = frame.get("page"), None
        if isinstance(page, dict) and page.get("url"):
            try:
                await self.page_view(page)
            except ServiceError as error:
                # A page the helpdesk cannot store (an address too long, not http) is reported, but
                # must not leave the chat box without its welcome.
                page_error = error
        await self.send_json(await db(self._welcome)(last_message_id))
        if page_error:
            await self.send_error(page_error, {"type": "page.view"})

    def _routing_group(self, group_id) -> int | None:
        if group_id in (None, ""):
            return None
        if isinstance(group_id, bool) or not isinstance(group_id, int | str) or not str(group_id).isdigit():
            raise ServiceError(_("The group is an agent group's id."), field="group")
        if not AgentGroup.objects.filter(pk=int(group_id)).exists():
            raise ServiceError(_("There is no agent group %(id)s.") % {"id": group_id}, field="group")
        return int(group_id)

    def _current_conversation(self) -> Conversation | None:
        return (
            selectors.visitor_conversations_on(visitor_id=self.visitor.pk, channel=Channel.WEB)
            .select_related("assignee")
            .first()
        )

    def _welcome(self, last_message_id: int | None) -> dict:
        from .events import conversation_payload

        conversation = self._current_conversation()
        visitor = self.visitor
        return {
            "type": "visitor.welcome",
            "token": str(visitor.key),
            "visitor": {"name": visitor.name, "email": visitor.email, "phone": visitor.phone},
            "conversation": realtime.conversation_for_visitor(conversation_payload(conversation))
            | {"can_rate": permissions.why_cannot_rate(conversation) is None}
            if conversation
            else None,
            "messages": message_frames(conversation.pk, last_message_id, public=True) if conversation else [],
            "agents_online": account_selectors.any_agent_available(),
            # Whether the chat box records the visit (the website and the page may still say no).
            "recording": Account.load().recording_enabled,
        }

    async def ping(self, frame):
        agents_online = await db(self._heartbeat)()
        if self.visitor is not None:
            await self.renew_groups()
        await self.send_json({"type": "pong", "agents_online": agents_online})

    def _heartbeat(self) -> bool:
        """The chat box is still open (one trip to the database threads for all a ping needs)."""
        if self.visitor is not None:
            visitor_services.visitor_heartbeat(visitor_id=self.visitor.pk, connection=self.channel_name)
        return account_selectors.any_agent_available()

    def _activity_due(self) -> bool:
        """Whether this connection should record the visitor's activity now (see ACTIVITY_RECORD_SECONDS)."""
        now = time.monotonic()
        if now - self.activity_recorded_at < ACTIVITY_RECORD_SECONDS:
            return False
        self.activity_recorded_at = now
        return True

    def _check_rate(self):
        if not self.limiter.allow():
            raise ServiceError(_("You are sending messages too fast; wait a moment."), code="rate_limited")

    async def message_send(self, frame):
        self._check_rate()
        client_id = required(frame, "client_id", str)
        body = required(frame, "body", str)
        message = await db(self._send)(body, client_id, self._activity_due())
        await self.send_json(
            {
                "type": "message.ack",
                "client_id": client_id,
                "id": message.pk,
                "conversation_id": message.conversation_id,
            }
        )

    def _send(self, body: str, client_id: str, activity_due: bool) -> Message:
        message = services.visitor_message_create(
            visitor=self.visitor,
            body=body,
            client_id=client_id,
            page_url=self.page_url,
            ip_address=client_ip(self.scope),
            group_id=self.group_id,
        )
        if activity_due:
            visitor_services.visitor_touch(visitor_id=self.visitor.pk)
        return message

    async def typing_update(self, frame):
        typing = required(frame, "typing", bool)
        conversation = await db(self._current_conversation)()
        if conversation is None or not conversation.is_open:
            return
        if self._activity_due():
            await db(visitor_services.visitor_touch)(visitor_id=self.visitor.pk)
        groups = realtime.dashboard_groups(
            {"id": conversation.pk, "group_id": conversation.group_id, "assignee_id": conversation.assignee_id}
        )
        event = {"type": "typing", "author": "visitor", "conversation_id": conversation.pk, "typing": typing}
        await realtime.asend_to_groups((groups, event))

    async def page_view(self, frame):
        url = frame.get("url")
        await db(visitor_services.page_view_record)(
            visitor=self.visitor, url=url, title=frame.get("title") or "", referrer=frame.get("referrer") or ""
        )
        self.page_url = url

    async def visitor_update(self, frame):
        contact = {field: frame[field] for field in ("name", "email", "phone") if field in frame}
        if not contact:
            raise ServiceError(_("Send a name, email or phone."), field="name")
        self.visitor = await db(visitor_services.visitor_update)(visitor=self.visitor, **contact)
        await self.send_json({"type": "visitor.updated", "visitor": contact})

    async def visitor_variables(self, frame):
        await db(visitor_services.visitor_set_variables)(visitor=self.visitor, variables=frame.get("variables"))

    async def visitor_identify(self, frame):
        contact = {field: frame.get(field) for field in ("name", "email", "phone")}
        customer = await db(visitor_services.visitor_identify)(
            visitor=self.visitor, external_id=frame.get("id"), hash=frame.get("hash"), **contact
        )
        if customer.pk != self.visitor.pk:
            await self._become(customer)
        await self.send_json(await db(self._welcome)(None))

    async def _become(self, customer):
        await self.leave(realtime.visitor_group(self.visitor.pk))
        await db(self._leave)()
        self.visitor = customer
        await db(visitor_services.visitor_heartbeat)(visitor_id=customer.pk, connection=self.channel_name)
        await self.join(realtime.visitor_group(customer.pk))

    async def visitor_group(self, frame):
        self.group_id = await db(self._routing_group)(frame.get("group"))

    async def offline_message(self, frame):
        """The contact form shown while no agent is online: it becomes a conversation whose visitor
        email is known."""
        self._check_rate()
        email = frame.get("email")
        if not isinstance(email, str) or not email.strip():
            raise ServiceError(_("Enter your email address so we can answer you."), field="email")
        body = required(frame, "message", str)
        contact = {"email": email} | ({"name": frame["name"]} if isinstance(frame.get("name"), str) else {})
        message = await db(self._offline_message)(contact, body, frame.get("client_id"))
        await self.send_json(
            {
                "type": "offline.ack",
                "client_id": frame.get("client_id"),
                "id": message.pk,
                "conversation_id": message.conversation_id,
            }
        )

    def _offline_message(self, contact: dict, body: str, client_id):
        from django.db import transaction

        with transaction.atomic():
            self.visitor = visitor_services.visitor_update(visitor=self.visitor, **contact)
            return services.visitor_message_create(
                visitor=self.visitor,
                body=body,
                client_id=client_id if isinstance(client_id, str) else None,
                page_url=self.page_url,
                ip_address=client_ip(self.scope),
                group_id=self.group_id,
            )

    async def conversation_rate(self, frame):
        rating = frame.get("rating")
        comment = frame.get("comment") or ""
        if not isinstance(comment, str):
            raise ServiceError(_("The comment is text."), field="comment")
        await db(self._rate)(rating, comment)
        await self.send_json({"type": "rating.ack", "rating": rating})

    def _rate(self, rating, comment):
        conversation = self._current_conversation()
        if conversation is None:
            raise ServiceError(_("There is no conversation to rate yet."), code="conflict")
        services.conversation_rate(conversation=conversation, visitor=self.visitor, rating=rating, comment=comment)


def _frame_conversation_id(frame) -> int:
    conversation_id = optional_id(frame, "conversation_id")
    if conversation_id is None:
        raise ServiceError(_("conversation_id is missing."), field="conversation_id")
    return conversation_id


class AgentConsumer(JsonProtocolConsumer):
    """The dashboard. Signed in by the Django session; only pages served by this helpdesk may open it."""

    handlers = {
        "ping": "ping",
        "conversation.watch": "conversation_watch",
        "conversation.unwatch": "conversation_unwatch",
        "message.send": "message_send",
        "typing.update": "typing_update",
        "conversation.join": "conversation_action",
        "conversation.resolve": "conversation_action",
        "conversation.reopen": "conversation_action",
        "status.set": "status_set",
    }
    actions = {
        "conversation.join": services.conversation_join,
        "conversation.resolve": services.conversation_resolve,
        "conversation.reopen": services.conversation_reopen,
    }

    async def connect(self):
        self.groups = []
        self.lanes = Lanes(DASHBOARD_FRAMES_AT_ONCE)
        self.agent = self.scope.get("user")
        if not is_same_origin(self.scope) and origin_of(header(self.scope, b"origin")) not in {
            origin_of(origin) for origin in settings.CSRF_TRUSTED_ORIGINS
        }:
            await self.close(code=NOT_ALLOWED_ORIGIN)
            return
        if self.agent is None or not self.agent.is_authenticated or not self.agent.is_active:
            await self.close(code=NOT_AUTHENTICATED)
            return
        await self.accept()
        await self.join(*await db(realtime.agent_inbox_groups)(self.agent))
        await db(account_services.agent_heartbeat)(agent=self.agent)
        await self.send_json(await db(self._welcome)())

    def _welcome(self) -> dict:
        from .events import agent_payload

        return {
            "type": "agent.welcome",
            "agent": agent_payload(self.agent) | {"role": self.agent.role, "status": self.agent.status},
            "counts": selectors.inbox_counts(self.agent),
        }

    async def handle(self, frame: dict):
        """A dashboard's frames run side by side, each conversation's in the order they came, so that
        one reply waiting for the database holds up neither the agent's other conversations nor the
        live frames of everybody else's messages (the socket reads its events meanwhile)."""
        conversation_id = frame.get("conversation_id")
        lane = conversation_id if type(conversation_id) is int else None
        await self.lanes.run(lane, super().handle, frame)

    async def websocket_disconnect(self, message):
        # Whatever the agent sent before closing is still stored, and a conversation watched at the last
        # moment has joined its groups before the socket leaves them.
        await self.lanes.finish()
        await super().websocket_disconnect(message)

    async def disconnect(self, code):
        for group in list(self.groups):
            await self.channel_layer.group_discard(group, self.channel_name)

    async def ping(self, frame):
        """The heartbeat, which also brings the connection up to date with the agent as the owner has
        them now: locked out, it closes; another role or other groups, the inbox follows."""
        agent = await db(self._reload_agent)()
        if agent is None:
            await self.close(code=NOT_AUTHENTICATED)
            return
        await db(account_services.agent_heartbeat)(agent=agent)
        wanted = set(await db(realtime.agent_inbox_groups)(agent))
        inbox = {group for group in self.groups if group.startswith(("inbox-", "agent-"))}
        await self.leave(*(inbox - wanted))
        await self.join(*(wanted - inbox))
        await self.renew_groups()
        await self.send_json({"type": "pong"})

    def _reload_agent(self):
        """The agent as stored now (None when they can no longer log in): rights are never those of
        the moment the dashboard connected."""
        agent = account_selectors.agent_who_can_log_in(agent_id=self.agent.pk)
        if agent is not None:
            self.agent = agent
        return agent

    def _conversation_id(self, frame) -> int:
        """The frame's conversation id, once the agent is re-read and may still log in."""
        conversation_id = _frame_conversation_id(frame)
        if self._reload_agent() is None:
            raise ServiceError(_("Your account cannot log in any more."), code="forbidden")
        return conversation_id

    def _conversation(self, frame) -> Conversation:
        return selectors.conversation_for_agent(agent=self.agent, conversation_id=self._conversation_id(frame))

    async def conversation_watch(self, frame):
        """Open a conversation: its live events from now on, and what happened after the last message
        the dashboard has."""
        conversation = await db(self._conversation)(frame)
        await self.join(
            realtime.conversation_group(conversation.pk), realtime.visitor_watch_group(conversation.visitor_id)
        )
        sync = await db(self._catch_up)(conversation, optional_id(frame, "last_message_id"))
        await self.send_json(sync)

    def _catch_up(self, conversation: Conversation, last_message_id: int | None) -> dict:
        from visitors.presence import visitor_state

        from .events import conversation_payload, history_payload

        history = ConversationEvent.objects.filter(conversation=conversation).order_by("id")
        return {
            "type": "conversation.sync",
            "conversation": conversation_payload(conversation),
            "messages": message_frames(conversation.pk, last_message_id, public=False),
            "history": [history_payload(event) for event in history[:CATCH_UP_LIMIT]],
            "visitor_state": visitor_state(conversation.visitor_id),
        }

    async def conversation_unwatch(self, frame):
        conversation = await db(self._conversation)(frame)
        await self.leave(
            realtime.conversation_group(conversation.pk), realtime.visitor_watch_group(conversation.visitor_id)
        )

    async def message_send(self, frame):
        client_id = required(frame, "client_id", str)
        body = required(frame, "body", str)
        channel = frame.get("channel")
        message = await db(self._send)(frame, body, client_id, channel)
        await self.send_json(
            {
                "type": "message.ack",
                "client_id": client_id,
                "id": message.pk,
                "conversation_id": message.conversation_id,
            }
        )

    def _send(self, frame, body, client_id, channel):
        return services.agent_message_create(
            agent=self.agent,  # read again with the conversation
            conversation_id=_frame_conversation_id(frame),
            body=body,
            client_id=client_id,
            channel=channel if isinstance(channel, str) else None,
        )

    async def typing_update(self, frame):
        typing = required(frame, "typing", bool)
        conversation = await db(self._conversation)(frame)
        from .events import agent_payload

        agent = agent_payload(self.agent)
        to_visitor = {
            "type": "typing",
            "author": "agent",
            "typing": typing,
            "agent": {"public_name": agent["public_name"]},
        }
        to_colleagues = {
            "type": "typing",
            "author": "agent",
            "conversation_id": conversation.pk,
            "typing": typing,
            "agent": agent,
        }
        await realtime.asend_to_groups(
            ([realtime.visitor_group(conversation.visitor_id)], to_visitor),
            ([realtime.conversation_group(conversation.pk)], to_colleagues),
        )

    async def conversation_action(self, frame):
        action = self.actions[frame["type"]]
        conversation = await db(self._conversation)(frame)
        await db(action)(conversation=conversation, actor=self.agent)
        await self.send_json({"type": "action.ok", "ref": frame["type"], "conversation_id": conversation.pk})

    async def status_set(self, frame):
        status = required(frame, "status", str)
        await db(account_services.agent_set_status)(agent=self.agent, status=status)
        await self.send_json({"type": "status.ok", "status": status})
