"""The chat box in a real browser (Debian's Chromium through Playwright): a website on another origin
embeds the snippet, a visitor chats, an agent's websocket answers.

The helpdesk runs under uvicorn in a thread of this process, so it shares the test database and the
in-memory channel layer; the website is a plain http.server on another port, that is another origin.
"""

import json
import os
import socket
import threading
import time
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from django.conf import settings

from conversations.models import Conversation
from conversations.widget import snippet
from helpdesk.models import Account, Agent
from visitors.models import PageView, Visitor

from ..factories import AgentFactory

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(settings.BASE_DIR) / "test-artifacts"
# How long the browser waits for a page or an element: generous for a busy 2-core CI machine; a
# passing run never waits this long.
PATIENCE_MS = 10_000

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture(scope="module")
def chromium():
    if not os.path.exists(CHROMIUM):
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium package")
        pytest.skip(f"{CHROMIUM} is not installed")
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=PATIENCE_MS)
    # Playwright's sync API keeps an event loop running in this thread, and Django refuses database
    # calls from a thread with a running loop; the test's own queries are plain sync code.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=CHROMIUM,
                args=[
                    "--headless=new",
                    "--no-sandbox",
                    "--disable-gpu",
                    "--disable-quic",
                    "--no-first-run",
                    "--disable-background-networking",
                    "--disable-component-update",
                    "--disable-sync",
                ],
            )
            yield browser
            browser.close()
    finally:
        del os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Helpdesk:
    """The helpdesk under uvicorn in a thread; `restart` drops every websocket, as a deploy would."""

    def __init__(self):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.start()

    def start(self):
        import uvicorn
        from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler

        from helpdesk.asgi import application

        # Static files as in development (tests run with DEBUG off and nothing collected).
        app = ASGIStaticFilesHandler(application)
        self.server = uvicorn.Server(
            uvicorn.Config(
                app,
                host="127.0.0.1",
                port=self.port,
                log_level="warning",
                lifespan="off",
                timeout_graceful_shutdown=1,
            )
        )
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        eventually(lambda: self.server.started, timeout=10)

    def stop(self):
        self.server.should_exit = True
        self.thread.join(5)

    def restart(self):
        self.stop()
        self.start()


@pytest.fixture
def helpdesk(transactional_db, in_process_channel_layer):
    server = Helpdesk()
    yield server
    server.stop()


@pytest.fixture
def helpdesk_url(helpdesk):
    return helpdesk.url


def website(helpdesk_url: str, *, lang: str = "en", head: str = "") -> str:
    """A website on its own origin whose pages embed the snippet; any path is a page."""
    page = f"""<!doctype html><html lang="{lang}"><head><title>Shoe shop</title>
<style>iframe, button {{ border: 6px dashed red !important; }} * {{ font-family: serif !important; }}</style>
{snippet(helpdesk_url)}
<script>window.received = []; helpdesk("on", "message_received", function (m) {{ received.push(m.body); }});</script>
{head}</head><body><h1>Shoe shop</h1><a href="/shoes">Shoes</a></body></html>""".encode()

    class Page(BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(page)))
            self.end_headers()
            self.wfile.write(page)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Page)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{server.server_port}"


def allow(origin: str) -> None:
    account = Account.load()
    account.allowed_origins = origin
    account.save()


@contextmanager
def agent_socket(helpdesk_url: str, agent: Agent):
    """The dashboard's side, as a real websocket client signed in with a session cookie."""
    from django.test import Client
    from websockets.sync.client import connect

    client = Client()
    client.force_login(agent)
    cookie = f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"
    url = helpdesk_url.replace("http", "ws") + "/ws/agent/"
    with connect(url, origin=helpdesk_url, additional_headers={"Cookie": cookie}) as ws:
        dashboard = AgentSocket(ws)
        assert dashboard.receive("agent.welcome")
        yield dashboard


class AgentSocket:
    def __init__(self, ws):
        self.ws = ws

    def send(self, **frame):
        self.ws.send(json.dumps(frame))

    def receive(self, frame_type: str, timeout: float = PATIENCE_MS / 1000, **match) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            frame = json.loads(self.ws.recv(timeout=max(0.01, deadline - time.monotonic())))
            if frame["type"] == frame_type and all(frame.get(key) == value for key, value in match.items()):
                return frame


def eventually(check, timeout: float = PATIENCE_MS / 1000):
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "the condition never held"
        time.sleep(0.05)


def test_visitor_on_another_website_chats_with_an_agent_and_rates(chromium, helpdesk_url):
    site = website(helpdesk_url, head='<script>helpdesk("name", "Vera Visitor");</script>')
    allow(site)
    agent = AgentFactory(
        name="Anna Kovacs", public_name="Anna", avatar="avatars/anna.png", role=Agent.Role.FULL, online=True
    )
    with agent_socket(helpdesk_url, agent) as dashboard:
        chat_with(chromium, site, dashboard)


def chat_with(chromium, site: str, dashboard: "AgentSocket"):
    from playwright.sync_api import expect

    page = chromium.new_page(viewport={"width": 1000, "height": 760})
    page.set_default_timeout(PATIENCE_MS)
    try:
        page.goto(site + "/shoes")
        box = page.frame_locator("iframe[data-helpdesk]")
        box.get_by_role("button", name="Open chat").click()
        message_input = box.get_by_role("textbox", name="Write a message…")
        message_input.fill("Do you have these in size 42?")
        message_input.press("Enter")

        created = dashboard.receive("message.created")
        assert created["message"]["body"] == "Do you have these in size 42?"
        conversation_id = created["conversation"]["id"]
        visitor = Visitor.objects.get(conversations__id=conversation_id)
        assert visitor.name == "Vera Visitor"  # helpdesk("name", ...) queued before the loader arrived
        assert PageView.objects.filter(visitor=visitor, url=site + "/shoes").exists()

        message_input.press_sequentially("Also in blue")
        assert dashboard.receive("typing", author="visitor", typing=True)["conversation_id"] == conversation_id

        dashboard.send(type="typing.update", conversation_id=conversation_id, typing=True)
        expect(box.get_by_text("Anna is typing…")).to_be_visible()
        page.screenshot(path=ARTIFACTS / "widget-agent-typing.png")

        # The reply makes Anna the assignee: the chat box shows her avatar (a file not served here).
        with page.expect_request(lambda request: request.url.endswith("/media/avatars/anna.png")):
            dashboard.send(
                type="message.send", conversation_id=conversation_id, client_id="r1", body="Yes, we have size 42."
            )
        reply = box.locator(".msg.agent", has_text="Yes, we have size 42.")
        expect(reply).to_be_visible()
        expect(reply.locator(".who")).to_have_text("Anna")
        expect(box.locator("header .title")).to_have_text("Anna")
        expect(box.get_by_text("Anna is typing…")).to_be_hidden()
        assert page.evaluate("window.received") == ["Yes, we have size 42."]

        page.evaluate("history.pushState({}, '', '/cart')")
        eventually(lambda: PageView.objects.filter(visitor=visitor, url=site + "/cart").exists())

        dashboard.send(type="conversation.resolve", conversation_id=conversation_id)
        rating = box.get_by_role("group", name="How was this conversation?")
        expect(rating).to_be_visible()
        page.screenshot(path=ARTIFACTS / "widget-rating-prompt.png")
        rating.get_by_role("radio", name="4 out of 5").check()
        box.get_by_role("textbox", name="Comment (optional)").fill("Quick and kind")
        box.get_by_role("button", name="Send rating").click()
        expect(box.get_by_text("Thank you for your feedback!")).to_be_visible()

        conversation = Conversation.objects.get(pk=conversation_id)
        assert (conversation.rating, conversation.rating_comment) == (4, "Quick and kind")
        assert conversation.messages.filter(body="Do you have these in size 42?").count() == 1

        message_input.fill("One more thing")
        message_input.press("Enter")
        assert dashboard.receive("message.created")["conversation"]["id"] == conversation_id
        expect(box.get_by_text("This conversation was resolved.", exact=False)).to_be_hidden()
        assert Conversation.objects.get(pk=conversation_id).status == Conversation.Status.OPEN
    finally:
        page.screenshot(path=ARTIFACTS / "widget-chat-end.png")
        page.close()


def test_a_website_not_on_the_allowed_list_gets_no_chat_box(chromium, helpdesk_url):
    allow("https://shop.example.com")
    site = website(helpdesk_url)
    page = chromium.new_page()
    page.set_default_timeout(PATIENCE_MS)
    try:
        with page.expect_console_message(lambda message: "frame-ancestors" in message.text):
            page.goto(site)
        page.wait_for_load_state("load")
        assert page.locator("iframe[data-helpdesk]").evaluate("frame => getComputedStyle(frame).visibility") == (
            "hidden"
        )
        assert not Visitor.objects.exists()
    finally:
        page.screenshot(path=ARTIFACTS / "widget-refused.png")
        page.close()


def in_thread(function, *args, **kwargs):
    """Run service code outside Playwright's event loop thread (it publishes through async_to_sync)."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(1) as pool:
        return pool.submit(function, *args, **kwargs).result()


def test_tabs_are_one_visitor_and_a_dropped_connection_misses_and_doubles_nothing(chromium, helpdesk):
    from playwright.sync_api import expect

    from conversations import services

    site = website(helpdesk.url)
    allow(site)
    agent = AgentFactory(public_name="Anna", online=True)
    context = chromium.new_context()
    context.set_default_timeout(PATIENCE_MS)
    first, second = context.new_page(), context.new_page()
    try:
        first.goto(site + "/shoes")
        first_box = first.frame_locator("iframe[data-helpdesk]")
        first_box.get_by_role("button", name="Open chat").click()
        first_box.get_by_role("textbox", name="Write a message…").fill("Hello from the first tab")
        first_box.get_by_role("textbox", name="Write a message…").press("Enter")
        eventually(lambda: Conversation.objects.exists())

        second.goto(site + "/hats")
        second_box = second.frame_locator("iframe[data-helpdesk]")
        second_box.get_by_role("button", name="Open chat").click()
        expect(second_box.locator(".msg", has_text="Hello from the first tab")).to_have_count(1)
        first_box.get_by_role("textbox", name="Write a message…").fill("And again")
        first_box.get_by_role("textbox", name="Write a message…").press("Enter")
        expect(second_box.locator(".msg", has_text="And again")).to_have_count(1)
        assert Visitor.objects.count() == 1 and Conversation.objects.count() == 1

        helpdesk.stop()
        expect(first_box.get_by_text("Connection lost; reconnecting…")).to_be_visible()
        first_box.get_by_role("textbox", name="Write a message…").fill("Written while offline")
        first_box.get_by_role("textbox", name="Write a message…").press("Enter")
        conversation = Conversation.objects.get()
        in_thread(
            services.message_create,
            conversation=conversation,
            author="agent",
            agent=agent,
            body="Sent while you were away",
            client_id="away",
        )
        helpdesk.start()

        for box in (first_box, second_box):
            # Reconnecting backs off (0.5 to 2 s per attempt, more on a busy machine).
            expect(box.locator(".msg.agent", has_text="Sent while you were away")).to_have_count(1, timeout=15000)
            expect(box.locator(".msg.visitor", has_text="Written while offline")).to_have_count(1)
            expect(box.locator(".msg")).to_have_count(4)
        assert conversation.messages.filter(body="Written while offline").count() == 1
        first.screenshot(path=ARTIFACTS / "widget-after-reconnect.png")
    finally:
        context.close()


def test_offline_form_in_the_pages_language_becomes_a_conversation_with_the_email(chromium, helpdesk_url):
    from playwright.sync_api import expect

    site = website(helpdesk_url, lang="hu-HU")
    allow(site)
    page = chromium.new_page(viewport={"width": 390, "height": 740})  # a phone
    page.set_default_timeout(PATIENCE_MS)
    try:
        page.goto(site)
        box = page.frame_locator("iframe[data-helpdesk]")
        box.get_by_role("button", name="Csevegés megnyitása").click()
        frame_box = page.locator("iframe[data-helpdesk]").bounding_box()
        assert (frame_box["width"], frame_box["height"]) == (390, 740)  # full screen on a phone

        box.get_by_role("textbox", name="Név").fill("Kiss Vera")
        box.get_by_role("textbox", name="Üzenet").fill("Hívjanak vissza")
        box.get_by_role("button", name="Üzenet küldése").click()
        expect(box.get_by_role("textbox", name="E-mail (kötelező)")).to_be_focused()  # the browser asks for it
        assert not Conversation.objects.exists()
        box.get_by_role("textbox", name="E-mail (kötelező)").fill("vera@example.com")
        box.get_by_role("button", name="Üzenet küldése").click()
        expect(box.get_by_text("Köszönjük! Megkaptuk az üzenetét")).to_be_visible()
        page.screenshot(path=ARTIFACTS / "widget-offline-form-phone.png")

        conversation = Conversation.objects.select_related("visitor").get()
        assert (conversation.visitor.email, conversation.visitor.name) == ("vera@example.com", "Kiss Vera")
        assert conversation.messages.get().body == "Hívjanak vissza"

        page.evaluate("helpdesk('language', 'en')")
        expect(box.get_by_text("Thank you! We got your message")).to_be_visible()
    finally:
        page.close()


def test_identify_with_a_wrong_hash_is_refused_and_with_the_right_one_accepted(chromium, helpdesk_url):
    from playwright.sync_api import expect

    from visitors.services import identity_hash

    site = website(
        helpdesk_url,
        head="""<script>helpdesk("identify", {id: "customer-42", name: "Vera Kiss", hash: "00"});
helpdesk("variables", {plan: {label: "Plan", value: "Gold"}}); helpdesk("chat:open");</script>""",
    )
    allow(site)
    AgentFactory(online=True)
    page = chromium.new_page()
    page.set_default_timeout(PATIENCE_MS)
    try:
        page.goto(site)
        box = page.frame_locator("iframe[data-helpdesk]")
        expect(box.get_by_role("alert")).to_have_text("The identity hash does not match this customer id.")
        eventually(lambda: Visitor.objects.filter(variables__plan__value="Gold").exists())
        assert not Visitor.objects.filter(external_id="customer-42").exists()

        good = in_thread(identity_hash, "customer-42")
        page.evaluate(f'helpdesk("identify", {{id: "customer-42", name: "Vera Kiss", hash: "{good}"}})')
        eventually(lambda: Visitor.objects.filter(external_id="customer-42", name="Vera Kiss").exists())
    finally:
        page.close()
