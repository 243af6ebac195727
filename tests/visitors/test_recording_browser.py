"""A recorded visit in a real browser (Debian's Chromium through Playwright): a visitor browses two pages
of a website on another origin and types into its fields, leaves, and an agent plays the recording.

The helpdesk server, the browser and the helpers are those of the chat box's browser tests.
"""

# Their fixtures are imported here, so test arguments carry the imported names on purpose.
# ruff: noqa: F811

import gzip
import json
import os
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.conf import settings

from conversations.widget import snippet
from helpdesk.models import Account
from visitors.models import Recording, RecordingChunk, Visitor
from visitors.services import visitor_settle_departure

from ..conversations.test_widget_browser import (  # noqa: F401 (fixtures)
    ARTIFACTS,
    PATIENCE_MS,
    allow,
    chromium,
    eventually,
    helpdesk,
    helpdesk_url,
    in_thread,
)
from ..factories import AgentFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SECRET = "Tr0ub4dor-and-3-horses"
CARD = "4111 1111 1111 1111"
RRWEB_META, RRWEB_INCREMENTAL, RRWEB_INPUT = 4, 3, 5


def shop(helpdesk_url: str, head: str = "", extra: str = "") -> str:
    """A website on its own origin with two pages, each with a field, both embedding the snippet."""
    pages = {
        "/": """<h1>Shoe shop</h1><form><label>Coupon <input name="coupon"></label></form>
<p data-recording-ignore="mask">Hidden promo ABC</p><a href="/checkout">Checkout</a>""",
        "/checkout": """<h1>Checkout</h1><form><label>Delivery notes <textarea name="notes"></textarea></label>
<div data-recording-ignore="events"><p>Left out entirely</p></div></form>
<p>Saved card 5500-0000-0000-0004, order 4111 1111 1111 1112</p>""",
    }

    class Page(BaseHTTPRequestHandler):
        def do_GET(self):
            body = pages.get(self.path)
            if body is None:
                self.send_error(404)
                return
            html = f"""<!doctype html><html lang="en"><head><title>Shoe shop</title>{snippet(helpdesk_url)}{head}
</head><body>{body}{extra}</body></html>""".encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(html)))
            self.end_headers()
            self.wfile.write(html)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Page)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{server.server_port}"


def received_events() -> list[dict]:
    return [event for data in RecordingChunk.objects.values_list("data", flat=True) for event in batch(data)]


def batch(data) -> list[dict]:
    return json.loads(gzip.decompress(bytes(data)))


def pages_seen(events: list[dict]) -> list[str]:
    return [event["data"]["href"] for event in events if event["type"] == RRWEB_META]


def typed(events: list[dict]) -> list[str]:
    return [
        event["data"]["text"]
        for event in events
        if event["type"] == RRWEB_INCREMENTAL and event["data"].get("source") == RRWEB_INPUT
    ]


def test_a_recorded_visit_masks_what_was_typed_and_an_agent_plays_it(chromium, helpdesk_url, settings, tmp_path):
    from playwright.sync_api import expect

    settings.MEDIA_ROOT = tmp_path
    site = shop(helpdesk_url)
    allow(site)
    page = chromium.new_page(viewport={"width": 1000, "height": 700})
    page.set_default_timeout(PATIENCE_MS)
    try:
        with page.expect_request(lambda request: "rrweb-record" in request.url):
            page.goto(site + "/")
        eventually(lambda: RecordingChunk.objects.exists())  # the page's snapshot arrived
        page.get_by_role("textbox", name="Coupon").fill(SECRET)
        page.get_by_role("link", name="Checkout").click()
        eventually(lambda: site + "/checkout" in pages_seen(received_events()))  # recording the second page
        page.get_by_role("textbox", name="Delivery notes").fill(f"My card is {CARD}, thanks")
        # Typing reaches the helpdesk masked: the batches say a field changed, not to what.
        eventually(lambda: len(typed(received_events())) >= 2)
        assert Recording.objects.count() == 1  # both pages are one recording
    finally:
        page.close()

    # The chat box closed with the page; once the grace period is over the visitor has left (announced
    # by the check the closing enqueued, or by the periodic one), and that finalises the recording.
    visitor = Visitor.objects.get()
    settings.VISITOR_LEFT_GRACE = 0

    def left() -> bool:
        in_thread(visitor_settle_departure, visitor_id=visitor.pk)
        return not Recording.objects.filter(status=Recording.Status.RECORDING).exists()

    eventually(left)

    recording = Recording.objects.get()
    assert recording.status == Recording.Status.READY, recording.failure
    assert recording.pages == [site + "/", site + "/checkout"]
    stored = gzip.decompress(recording.file.read()).decode()
    for private in (SECRET, CARD, CARD.replace(" ", ""), "Hidden promo", "Left out entirely", "5500-0000"):
        assert private not in stored
    # A card number in the page's text is masked too; a number that fails the Luhn check is not a card.
    assert "Saved card ****-****-****-****, order 4111 1111 1111 1112" in stored
    assert all(set(text) <= {"*"} for text in typed(json.loads(stored)))

    agent = AgentFactory()
    player = agent_page(chromium, helpdesk_url, agent)
    try:
        player.goto(f"{helpdesk_url}/visitors/{visitor.pk}/card")
        expect(player.locator(".recordings li")).to_contain_text("2 pages")
        player.goto(helpdesk_url + player.locator(".recordings a").first.get_attribute("href"))
        expect(player.locator("#player")).to_have_attribute("data-loaded", "true")
        replayed = player.frame_locator("#player iframe")
        expect(replayed.get_by_role("heading", name="Shoe shop")).to_be_visible()
        player.screenshot(path=ARTIFACTS / "recording-player.png")
        # rrweb-player's controls: play/pause, the speeds, skip inactive, full screen; and the seek bar.
        controls = player.locator(".rr-controller__btns button")
        controls.filter(has_text="8x").click()
        controls.first.click()  # play
        expect(replayed.get_by_role("heading", name="Checkout")).to_be_visible()
        player.screenshot(path=ARTIFACTS / "recording-player-second-page.png")
    finally:
        player.context.close()


def test_a_visitor_who_left_and_comes_back_in_the_same_tab_gets_a_new_recording(chromium, helpdesk_url, settings):
    site = shop(helpdesk_url)
    allow(site)
    page = chromium.new_page()
    page.set_default_timeout(PATIENCE_MS)
    try:
        page.goto(site + "/")
        eventually(lambda: RecordingChunk.objects.exists())
        page.goto("about:blank")  # off to another website; the tab keeps the session id
        visitor = Visitor.objects.get()
        settings.VISITOR_LEFT_GRACE = 0
        eventually(
            lambda: in_thread(visitor_settle_departure, visitor_id=visitor.pk) or Recording.objects.get().size_bytes
        )
        settings.VISITOR_LEFT_GRACE = 60

        page.goto(site + "/checkout")
        eventually(lambda: Recording.objects.filter(status=Recording.Status.RECORDING, chunks__isnull=False).exists())
        again = Recording.objects.get(status=Recording.Status.RECORDING)
        assert pages_seen([event for chunk in again.chunks.all() for event in batch(chunk.data)]) == [
            site + "/checkout"
        ]
        assert Recording.objects.filter(status=Recording.Status.READY).count() == 1
    finally:
        page.close()


@pytest.mark.parametrize(
    "opt_out",
    [
        '<meta name="helpdesk-recording" content="off">',
        "<script>helpdesk('recording:disable');</script>",
        "account",
    ],
    ids=["page", "website", "account"],
)
def test_when_recording_is_off_no_recorder_loads(chromium, helpdesk_url, opt_out):
    site = shop(helpdesk_url, head="" if opt_out == "account" else opt_out)
    allow(site)
    if opt_out == "account":
        Account.objects.filter(pk=1).update(recording_enabled=False)
    page = chromium.new_page()
    page.set_default_timeout(PATIENCE_MS)
    scripts = []
    page.on("request", lambda request: scripts.append(request.url) if request.resource_type == "script" else None)
    try:
        page.goto(site + "/")
        # The welcome arrived (the chat box handed over the visitor's key); the recorder would follow it.
        page.wait_for_function("Object.keys(localStorage).some((key) => key.endsWith(':visitor'))")
        page.evaluate("new Promise((resolve) => setTimeout(resolve, 300))")
        assert [url for url in scripts if "record" in url] == []
        assert not RecordingChunk.objects.exists()
    finally:
        page.close()


def agent_page(chromium, helpdesk_url: str, agent):
    from django.test import Client

    client = Client()
    client.force_login(agent)
    context = chromium.new_context(viewport={"width": 1200, "height": 900})
    context.set_default_timeout(PATIENCE_MS)
    context.add_cookies(
        [
            {
                "name": settings.SESSION_COOKIE_NAME,
                "value": client.cookies[settings.SESSION_COOKIE_NAME].value,
                "url": helpdesk_url,
            }
        ]
    )
    return context.new_page()


@pytest.mark.skipif(not os.environ.get("MEASURE_RECORDING"), reason="a measurement: MEASURE_RECORDING=1 runs it")
def test_measure_a_minute_of_browsing(chromium, helpdesk_url, settings, tmp_path):
    """For the README: a scripted minute on a shop page of about 40 products (moving, scrolling, clicking,
    typing, three page loads); prints what was uploaded and what is stored."""
    settings.MEDIA_ROOT = tmp_path
    products = "".join(
        f'<article class="product"><img alt="" width="120" height="90" src="data:,"><h2>Running shoe {n}</h2>'
        f"<p>Light, breathable mesh upper, cushioned sole; sizes 36 to 47. Item {n:05d}.</p>"
        f'<p class="price">{49 + n}.90 EUR</p><button type="button">Add to cart</button></article>'
        for n in range(40)
    )
    site = shop(helpdesk_url, head="<style>.product{display:inline-block;width:30%;margin:1%}</style>", extra=products)
    allow(site)
    page = chromium.new_page(viewport={"width": 1280, "height": 800})
    page.set_default_timeout(PATIENCE_MS)
    started = time.monotonic()
    try:
        for path in ("/", "/checkout", "/"):
            page.goto(site + path)
            eventually(lambda path=path: site + path in pages_seen(received_events()))
            for step in range(20):
                page.mouse.move(100 + step * 40, 100 + (step * 37) % 600, steps=5)
                page.mouse.wheel(0, 300 if step % 4 else -600)
                if step % 5 == 0 and page.locator("button").count():
                    page.locator("button").nth(step).click()
                page.wait_for_timeout(900)
            field = page.get_by_role("textbox").first
            field.press_sequentially("size 42 please", delay=40)
        page.wait_for_timeout(5500)  # the last batch
    finally:
        page.close()
    minutes = (time.monotonic() - started) / 60
    settings.VISITOR_LEFT_GRACE = 0
    visitor = Visitor.objects.get()
    eventually(lambda: in_thread(visitor_settle_departure, visitor_id=visitor.pk) or Recording.objects.get().size_bytes)
    recording = Recording.objects.get()
    print(
        f"\nRECORDING {minutes:.2f} min browsing: uploaded {recording.received_bytes} bytes gzip "
        f"({recording.received_bytes / minutes / 1024:.1f} KB/min), stored {recording.size_bytes} bytes "
        f"({recording.size_bytes / minutes / 1024:.1f} KB/min), {len(recording.pages)} pages"
    )
