"""The Resolved tab's Advanced search in a real browser: each filter the seed names, filled in the page,
finds the matching conversation and not the other, and lives in the URL (a reload gives the same)."""

import re

import pytest
from django.utils import timezone

from conversations.models import Conversation
from helpdesk.models import Agent

from ..factories import AgentFactory, AgentGroupFactory, ConversationFactory, TagFactory
from .test_browser import browser, server, shot, signed_in_page  # noqa: F401 (fixtures and the signed-in tab, reused)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def resolved(**fields) -> Conversation:
    return ConversationFactory(status=Conversation.Status.RESOLVED, resolved_at=timezone.now(), **fields)


def test_each_advanced_filter_finds_its_conversation_and_stays_in_the_url(server, browser):  # noqa: F811
    from playwright.sync_api import expect

    owner = AgentFactory(name="Olga Owner", role=Agent.Role.OWNER)
    ada, bob = AgentFactory(name="Ada Agent"), AgentFactory(name="Bob Agent")
    billing, shipping = AgentGroupFactory(name="Billing"), AgentGroupFactory(name="Shipping")
    refund, delivery = TagFactory(name="refund"), TagFactory(name="delivery")
    wanted = resolved(
        visitor__name="Anna Alpha",
        rating=5,
        assignee=ada,
        group=billing,
        tags=[refund],
        page_url="https://shop.example.com/checkout/payment",
        ip_address="198.51.100.23",
    )
    other = resolved(
        visitor__name="Bela Beta",
        rating=2,
        assignee=bob,
        group=shipping,
        tags=[delivery],
        page_url="https://shop.example.com/blog/summer",
        ip_address="203.0.113.7",
    )
    filters = [
        ("rating", lambda page: page.select_option("select[name=rating]", "5"), "5"),
        ("agent", lambda page: page.select_option("select[name=agent]", str(ada.pk)), str(ada.pk)),
        ("group", lambda page: page.select_option("select[name=group]", str(billing.pk)), str(billing.pk)),
        ("tag", lambda page: page.select_option("select[name=tag]", [str(refund.pk)]), str(refund.pk)),
        ("url", lambda page: page.fill("input[name=url]", "checkout"), "checkout"),
        ("ip", lambda page: page.fill("input[name=ip]", "198.51.100.0/24"), "198.51.100.0%2F24"),
    ]
    page = signed_in_page(browser, server, owner)

    for name, fill, in_url in filters:
        page.goto(server + "/resolved/")
        expect(page.locator(f"#row-{other.pk}")).to_be_visible()  # before searching, both are listed
        page.locator("#search summary").click()
        fill(page)
        page.locator("#search button.apply").click()

        expect(page).to_have_url(re.compile(rf"[?&]{name}={re.escape(in_url)}(&|$)"))
        for _attempt in ("applied", "reloaded"):
            expect(page.locator(f"#row-{wanted.pk}"), name).to_be_visible()
            expect(page.locator(f"#row-{other.pk}"), name).to_have_count(0)
            page.reload()
    shot(page, "advanced-search-ip")
    page.context.close()
