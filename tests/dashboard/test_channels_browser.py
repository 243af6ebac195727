"""Messenger and email replies in a real browser: a failed delivery shows its reason live, and a visitor
who left is answered by email from the composer."""

import threading
from datetime import timedelta

import pytest
from django.utils import timezone

from conversations.models import Channel, Message
from conversations.services import message_set_delivery
from helpdesk.models import Agent

from ..channels_fb.factories import FacebookPageFactory, MessengerContactFactory
from ..factories import AgentFactory, ConversationFactory, MessageFactory
from .test_browser import browser, open_dashboard, server, shot, signed_in_page  # noqa: F401 (reused fixtures)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def in_another_thread(work) -> None:
    """Playwright keeps an event loop in the test's thread; the event hub's fan-out needs its own."""
    thread = threading.Thread(target=work)
    thread.start()
    thread.join(timeout=10)


def test_failed_messenger_reply_shows_its_reason_live_and_email_goes_out_from_the_composer(
    server,  # noqa: F811
    browser,  # noqa: F811
    mailoutbox,
):
    from playwright.sync_api import expect

    agent = AgentFactory(name="Olga Owner", role=Agent.Role.OWNER, online=True)
    contact = MessengerContactFactory(page=FacebookPageFactory())
    messenger = ConversationFactory(channel=Channel.MESSENGER, visitor=contact.visitor, assignee=agent)
    reply = MessageFactory(
        conversation=messenger,
        author=Message.Author.AGENT,
        agent=agent,
        channel=Channel.MESSENGER,
        delivery_status=Message.Delivery.PENDING,
        body="Your parcel left.",
    )
    page = signed_in_page(browser, server, agent)
    open_dashboard(page, server, f"/conversations/{messenger.pk}/")
    shown = page.locator(f"#message-{reply.pk}")
    expect(shown.locator(".channel-messenger")).to_have_count(1)
    expect(shown.locator(".delivery-error")).to_have_count(0)

    in_another_thread(
        lambda: message_set_delivery(
            message=reply, status=Message.Delivery.FAILED, error="This person isn't available right now."
        )
    )

    expect(shown.locator(".delivery-error")).to_have_text("This person isn't available right now.")
    expect(shown).to_have_attribute("data-delivery", "failed")

    # The window closes while the page is open: the reply is refused with the reason and not lost.
    contact.last_customer_message_at = timezone.now() - timedelta(hours=25)
    contact.save(update_fields=["last_customer_message_at"])
    page.fill("#composer-body", "Are you still there?")
    page.keyboard.press("Enter")
    expect(page.locator("#flash")).to_contain_text("More than 24 hours have passed")
    expect(page.locator("#composer-body")).to_have_value("Are you still there?")
    shot(page, "messenger-refused")
    assert not Message.objects.filter(body="Are you still there?").exists()

    # A website visitor who left, with a known address: the agent answers by email.
    by_email = ConversationFactory(visitor__email="vera@example.com", assignee=agent)
    open_dashboard(page, server, f"/conversations/{by_email.pk}/")
    expect(page.locator("#goes-by-email")).to_be_hidden()
    page.locator("#as-email input").check()
    expect(page.locator("#goes-by-email")).to_have_text("This reply goes to vera@example.com by email.")
    page.fill("#composer-body", "We refunded your order.")
    page.keyboard.press("Enter")

    sent = page.locator("#thread .message.from-agent[data-channel=email]")
    expect(sent).to_contain_text("We refunded your order.")
    expect(sent.locator(".channel-email")).to_have_count(1)
    expect(sent).to_have_attribute("data-delivery", "sent")
    shot(page, "email-reply")
    assert mailoutbox[0].to == [f"{by_email.visitor.name} <vera@example.com>"]

    # No address known: no option, and the card says why; once the agent types it in, the option appears.
    unknown = ConversationFactory(visitor__email="", assignee=agent)
    open_dashboard(page, server, f"/conversations/{unknown.pk}/")
    expect(page.locator("#as-email")).to_have_count(0)
    expect(page.locator('#visitor-card [data-why="email"]')).to_contain_text("No email address is known")
    page.fill("#visitor-email", "nora@example.com")
    page.locator("#visitor-email").press("Enter")
    expect(page.locator("#as-email")).to_be_visible()
    expect(page.locator("#goes-by-email")).to_have_count(1)
    page.context.close()
