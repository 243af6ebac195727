"""The chat box's pages: snippet, loader, frame (who may show it) and the demo website."""

import re

import pytest

from conversations.widget import STATIC, frame_ancestors, page_weight_gzipped, snippet
from helpdesk.models import Account

pytestmark = pytest.mark.django_db


def allow(*origins: str) -> None:
    account = Account.load()
    account.allowed_origins = "\n".join(origins)
    account.save()


def test_snippet_queues_calls_and_loads_the_loader_from_the_helpdesk():
    html = snippet("https://help.example.com/")

    assert html.startswith("<script>") and html.endswith("</script>")
    assert '"https://help.example.com"' in html
    assert 'u+"/widget/loader.js"' in html
    assert "(w.helpdesk.q=w.helpdesk.q||[]).push(arguments)" in html


def test_loader_is_javascript_any_website_may_load_and_cache_briefly(client):
    response = client.get("/widget/loader.js")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/javascript")
    assert response["Cache-Control"] == "public, max-age=300"
    assert b"/widget/frame/" in response.content


def test_frame_may_be_shown_only_by_the_helpdesk_and_allowed_websites(client, settings):
    allow("https://shop.example.com", "http://localhost:3000")

    response = client.get("/widget/frame/")

    assert response.status_code == 200
    assert response["Content-Security-Policy"] == (
        f"frame-ancestors 'self' {settings.SITE_URL} https://shop.example.com http://localhost:3000"
    )
    assert "X-Frame-Options" not in response
    assert b'"https://shop.example.com"' in response.content  # the frame script checks its parent too


def test_a_malformed_origin_line_cannot_rewrite_the_frame_policy():
    Account.objects.update_or_create(pk=1, defaults={"allowed_origins": "https://a.example.com; script-src *\nftp://x"})

    assert frame_ancestors() == f"frame-ancestors 'self' {Account.load().origins[0]}"


def test_demo_shop_embeds_the_snippet_for_the_address_it_was_opened_at(client, settings):
    settings.WIDGET_DEMO = True

    response = client.get("/demo/?page=shoes", HTTP_HOST="localhost:8000")

    assert response.status_code == 200
    assert snippet("http://localhost:8000") in response.content.decode()
    assert b"Running shoes" in response.content


def test_demo_is_off_when_switched_off(client, settings):
    settings.WIDGET_DEMO = False

    assert client.get("/demo/").status_code == 404


def test_chat_box_scripts_and_styles_stay_under_40_kb_gzipped():
    size = page_weight_gzipped()

    assert size < 40 * 1024, size


def test_frame_script_ships_english_and_hungarian_with_the_same_texts():
    source = (STATIC / "frame.js").read_text()
    english = source.split("  en: {")[1].split("\n  },")[0]
    hungarian = source.split("  hu: {")[1].split("\n  },")[0]
    keys = re.compile(r"(\w+): \"")

    assert keys.findall(english) == keys.findall(hungarian)
