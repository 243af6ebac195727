"""The dashboard in a real browser: Chromium driven by Playwright against uvicorn serving the helpdesk,
with the visitor played by a real websocket client speaking docs/realtime-protocol.md.

Screenshots of the main screens go to test-artifacts/ (not committed).
"""

import json
import os
import shutil
import socket
import threading
import time
import uuid
from contextlib import ExitStack
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from conversations.models import Conversation
from helpdesk.models import Agent

from ..factories import AgentFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(settings.BASE_DIR) / "test-artifacts"
WAIT_MS = 10_000

if not shutil.which(CHROMIUM):
    if os.environ.get("CI"):
        pytest.fail(f"{CHROMIUM} is missing: the browser tests need Debian's Chromium.", pytrace=False)
    pytest.skip(f"{CHROMIUM} is missing", allow_module_level=True)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def server(transactional_db, in_process_channel_layer):
    """The helpdesk on uvicorn in a thread of this process: the test database and the in-memory
    channel layer are shared with the test."""
    import uvicorn
    from channels.routing import ProtocolTypeRouter, URLRouter
    from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler
    from django.core.asgi import get_asgi_application

    from helpdesk.routing import websocket_urlpatterns

    application = ProtocolTypeRouter(
        {
            "http": ASGIStaticFilesHandler(get_asgi_application()),
            "websocket": URLRouter(websocket_urlpatterns),
        }
    )
    port = free_port()
    config = uvicorn.Config(application, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    uvicorn_server = uvicorn.Server(config)
    thread = threading.Thread(target=uvicorn_server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not uvicorn_server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    yield f"http://127.0.0.1:{port}"
    uvicorn_server.should_exit = True
    thread.join(timeout=5)


@pytest.fixture
def browser(monkeypatch):
    from playwright.sync_api import expect, sync_playwright

    # Playwright's sync API keeps an event loop in this thread; the test's own database calls are
    # still plain synchronous ones (Django's documented switch for such test drivers).
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    ARTIFACTS.mkdir(exist_ok=True)
    expect.set_options(timeout=WAIT_MS)
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


def signed_in_page(browser, server, agent):
    """A browser tab signed in as the agent (the session cookie of a real login)."""
    from django.test import Client

    client = Client()
    client.force_login(agent)
    context = browser.new_context(viewport={"width": 1400, "height": 850})
    context.add_cookies(
        [
            {
                "name": settings.SESSION_COOKIE_NAME,
                "value": client.cookies[settings.SESSION_COOKIE_NAME].value,
                "url": server,
            }
        ]
    )
    # The agent allowed browser notifications; the test records what would have been shown.
    context.add_init_script(
        """
        window.shownNotifications = [];
        window.Notification = class {
          static permission = "granted";
          static requestPermission() { return Promise.resolve("granted"); }
          constructor(title, options) { window.shownNotifications.push(title); }
          addEventListener() {}
        };
        """
    )
    page = context.new_page()
    page.set_default_timeout(WAIT_MS)
    return page


def open_dashboard(page, server, path="/"):
    page.goto(server + path)
    page.wait_for_function("window.helpdeskSocket && window.helpdeskSocket.isOpen")


def shot(page, name):
    page.screenshot(path=str(ARTIFACTS / f"dashboard-{name}.png"))


class Visitor:
    """The visitor's chat box, as a websocket client."""

    def __init__(self, server, stack):
        from websockets.sync.client import connect

        url = server.replace("http://", "ws://") + "/ws/visitor/"
        self.socket = stack.enter_context(connect(url, origin=server, open_timeout=5))
        self.send({"type": "visitor.hello", "token": None, "page": {"url": "https://shop.example.com/checkout"}})
        self.welcome = self.receive("visitor.welcome")

    def send(self, frame):
        self.socket.send(json.dumps(frame))

    def receive(self, frame_type, timeout=WAIT_MS / 1000):
        deadline = time.monotonic() + timeout
        while True:
            frame = json.loads(self.socket.recv(timeout=max(0.01, deadline - time.monotonic())))
            if frame["type"] == frame_type:
                return frame

    def write(self, body):
        self.send({"type": "message.send", "client_id": str(uuid.uuid4()), "body": body})
        return self.receive("message.ack")


@pytest.fixture
def visitor_at(server):
    """Opens a visitor's chat box connection; all are closed after the test."""
    with ExitStack() as stack:
        yield lambda: Visitor(server, stack)


def count(page, tab):
    return page.locator(f'#tabs [data-count="{tab}"]')


def test_the_whole_story_of_a_conversation(server, browser, visitor_at):
    from playwright.sync_api import expect

    lili = AgentFactory(name="Lili Limited", role=Agent.Role.LIMITED, online=True)
    csaba = AgentFactory(name="Csaba Colleague", role=Agent.Role.LIMITED, online=True)
    page = signed_in_page(browser, server, lili)
    open_dashboard(page, server)
    expect(count(page, "new")).to_have_text("0")

    # A visitor writes: the conversation appears in New with a count, live.
    visitor = visitor_at()
    ack = visitor.write("Hello, my card 4111 1111 1111 1111 was charged twice")
    conversation_id = ack["conversation_id"]
    row = page.locator(f"#row-{conversation_id}")
    expect(row).to_contain_text("1111 was charged twice")
    expect(row).not_to_contain_text("4111 1111 1111 1111")
    expect(count(page, "new")).to_have_text("1")
    expect(row.locator(".unread-count")).to_have_text("1")
    # A new conversation plays a sound and shows a browser notification.
    page.wait_for_function("window.shownNotifications.length === 1 && document.body.dataset.lastSound")
    shot(page, "inbox")

    # The agent opens it and replies: it moves to Mine, and the visitor sees the reply.
    row.locator(".row-link").click()
    expect(page.locator("#conversation-header h2")).to_be_visible()
    page.wait_for_function(f"document.getElementById('conversation')?.dataset.conversationId === '{conversation_id}'")
    page.fill("#composer-body", "Sorry about that, I am refunding one now.")
    page.keyboard.press("Enter")
    expect(page.locator("#thread .message.from-agent")).to_contain_text("refunding one now")
    expect(count(page, "mine")).to_have_text("1")
    expect(count(page, "new")).to_have_text("0")
    expect(page.locator("#thread")).to_contain_text("Lili Limited joined")
    reply = visitor.receive("message.created")
    while reply["message"]["author"] != "agent":
        reply = visitor.receive("message.created")
    assert reply["message"]["body"] == "Sorry about that, I am refunding one now."
    shot(page, "conversation")

    # The visitor types: the agent sees it.
    visitor.send({"type": "typing.update", "typing": True})
    expect(page.locator("#typing")).to_be_visible()

    # A limited colleague cannot resolve Lili's conversation: the button is disabled with the reason.
    colleague_page = signed_in_page(browser, server, csaba)
    open_dashboard(colleague_page, server, f"/conversations/{conversation_id}/")
    colleague_resolve = colleague_page.locator(f"#row-{conversation_id} button.resolve")
    expect(colleague_resolve).to_be_disabled()
    expect(colleague_resolve).to_have_attribute(
        "title", "Only the assigned agent, an agent with full access or the owner can resolve this conversation."
    )
    expect(colleague_page.locator(".header-resolve button.resolve")).to_be_disabled()

    # Lili edits the visitor's name and email in the card; Csaba sees them live.
    page.fill("#visitor-name", "Vera Visitor")
    page.locator("#contact-name button.save").click()
    expect(page.locator("#contact-name input[name=value]")).to_have_value("Vera Visitor")
    page.fill("#visitor-email", "vera@example.com")
    page.locator("#contact-email button.save").click()
    expect(page.locator("#contact-email input[name=value]")).to_have_value("vera@example.com")
    expect(colleague_page.locator("#visitor-name")).to_have_value("Vera Visitor")
    expect(colleague_page.locator("#visitor-email")).to_have_value("vera@example.com")
    expect(colleague_page.locator(f"#row-{conversation_id}")).to_contain_text("Vera Visitor")
    shot(colleague_page, "visitor-card")

    # Lili resolves it from the list: it leaves Open and is in Resolved. Her own row is redrawn with the
    # new name first; a click on the row it replaces would be lost.
    expect(page.locator(f"#row-{conversation_id}")).to_contain_text("Vera Visitor")
    page.locator(f"#row-{conversation_id} button.resolve").click()
    expect(page.locator(f"#row-{conversation_id}")).to_have_count(0)
    expect(count(page, "all")).to_have_text("0")
    expect(colleague_page.locator("#conversation-header")).to_contain_text("Reopen")
    assert Conversation.objects.get(pk=conversation_id).status == Conversation.Status.RESOLVED
    open_dashboard(page, server, "/resolved/")
    expect(page.locator(f"#row-{conversation_id}")).to_contain_text("Vera Visitor")
    page.locator("summary").click()
    expect(page.locator("select[name=agent]")).to_be_visible()
    shot(page, "resolved-advanced-search")

    # The visitor writes again: back in Open, with no reload.
    open_dashboard(page, server, "/")
    expect(page.locator(f"#row-{conversation_id}")).to_have_count(0)
    visitor.write("One more thing")
    expect(page.locator(f"#row-{conversation_id}")).to_contain_text("One more thing")
    expect(count(page, "all")).to_have_text("1")
    expect(colleague_page.locator("#thread")).to_contain_text("Reopened")

    # The connection drops: the page says it is reconnecting, then catches up on what it missed.
    page.locator(f"#row-{conversation_id} .row-link").click()
    page.wait_for_function(f"document.getElementById('conversation')?.dataset.conversationId === '{conversation_id}'")
    page.evaluate("window.helpdeskSocket.attempt = 2; window.helpdeskSocket.ws.close()")
    expect(page.locator("#connection")).to_be_visible()
    shot(page, "reconnecting")
    visitor.write("Written while you were away")
    expect(page.locator("#thread")).to_contain_text("Written while you were away")
    expect(page.locator("#connection")).to_be_hidden()

    colleague_page.context.close()
    page.context.close()


def test_agent_settings_page_changes_language_to_hungarian(server, browser):
    from playwright.sync_api import expect

    agent = AgentFactory(name="Lili Limited", online=True)
    page = signed_in_page(browser, server, agent)
    page.goto(server + "/settings/")
    page.fill("#id_public_name", "Lili")
    page.select_option("#id_language", "hu")
    page.locator("main form button[type=submit]").first.click()
    expect(page.locator("h1")).to_have_text("Saját beállítások")
    shot(page, "settings")
    open_dashboard(page, server, "/")
    expect(page.locator("#tabs h2")).to_have_text("Nyitott")
    page.context.close()


def test_a_live_update_that_changes_nothing_on_a_row_leaves_the_row_under_the_agents_hand(server, browser, visitor_at):
    """A row is fetched again on every event about its conversation or visitor; drawn again when the
    server draws it the same (the visitor's phone number changed, say), it would drop a click on its
    Resolve button or the keyboard focus."""
    from playwright.sync_api import expect

    from visitors.models import Visitor as VisitorModel
    from visitors.services import visitor_update

    fanni = AgentFactory(name="Fanni Full", role=Agent.Role.FULL, online=True)
    page = signed_in_page(browser, server, fanni)
    open_dashboard(page, server)
    conversation_id = visitor_at().write("Hello, where is my parcel?")["conversation_id"]
    row = page.locator(f"#row-{conversation_id}")
    expect(row).to_contain_text("where is my parcel")
    row.locator("button.resolve").focus()

    def change_the_phone():  # in a thread of its own: Playwright's event loop runs in this one
        try:
            visitor = VisitorModel.objects.get(conversations__pk=conversation_id)
            visitor_update(visitor=visitor, actor=fanni, phone="+36 30 123 4567")
        finally:
            connection.close()

    with page.expect_response(lambda response: f"/conversations/{conversation_id}/row/" in response.url):
        changing = threading.Thread(target=change_the_phone)
        changing.start()
        changing.join(WAIT_MS / 1000)
    page.wait_for_timeout(100)  # the answer is read and compared

    assert page.evaluate("document.activeElement.closest('li')?.id") == f"row-{conversation_id}"
