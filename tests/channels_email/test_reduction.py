import pytest

from channels_email.reduction import html_to_text, reduce_reply, unflow
from channels_email.services import _new_text

from .conftest import parse, raw_mail

# Each client's reply, as it wrote it, and exactly the new text the visitor typed.
REPLIES = {
    "gmail_en.eml": "Hi Lili,\n\nYes, the order number is 10234. I ordered the blue one, size M.",
    "gmail_hu.eml": "Szia Lili!\n\nIgen, a rendelésszám 10234. A kéket rendeltem, M-es méretben.",
    "outlook_en.eml": (
        "Hello,\n\nI tried again and the payment still fails with error 402. My card is 4111 1111 1111 1111 "
        "if that helps."
    ),
    "outlook_hu_html_only.eml": "Jó napot!\n\nKöszönöm, a csomag megérkezett, minden rendben van.",
    "apple_en.eml": "Great, thank you! I’ll wait for the courier tomorrow.",
    "apple_hu.eml": "Rendben, holnap egész nap otthon leszek.",
    "thunderbird_en.eml": (
        "No, please send the invoice to my company, the address is on our website under Contact: "
        "Example Ltd, 1 Main Street, Budapest."
    ),
    "thunderbird_hu.eml": "A pirosat kérem, ha van még raktáron.",
}


@pytest.mark.parametrize(("fixture", "new_text"), REPLIES.items())
def test_reply_is_reduced_to_what_the_visitor_wrote(fixture, new_text):
    assert _new_text(parse(raw_mail(fixture, to="reply+7-abcdefghijklmnop@reply.example.com"))) == new_text


@pytest.mark.parametrize("fixture", ["gmail_en.eml", "gmail_hu.eml", "outlook_en.eml"])
def test_html_alternative_reduces_to_the_same_text(fixture):
    mail = parse(raw_mail(fixture, to="reply+7-abcdefghijklmnop@reply.example.com"))
    html = mail.get_body(preferencelist=("html",)).get_content()
    assert reduce_reply(html_to_text(html)) == REPLIES[fixture]


def test_html_to_text_keeps_line_breaks_and_quote_levels():
    html = "<div>Hi,<br>line two</div><p>Para &amp; more</p><blockquote>old<blockquote>older</blockquote></blockquote>"
    assert html_to_text(html) == "Hi,\nline two\n\nPara & more\n\n> old\n\n> > older"


def test_html_to_text_drops_styles_and_scripts():
    assert html_to_text("<style>p{color:red}</style><script>x()</script><p>Only this</p>") == "Only this"


def test_flowed_lines_are_joined_but_the_signature_separator_stays():
    assert unflow("A long \nline.\n> quoted \n> too\n-- \nVera") == "A long line.\n> quoted too\n-- \nVera"


def test_a_new_mail_without_quote_keeps_everything_but_the_signature():
    assert reduce_reply("Hello,\n\n- one\n- two\n\nBest regards,\nVera") == "Hello,\n\n- one\n- two"


def test_a_mail_that_is_only_a_quote_has_no_new_text():
    assert reduce_reply("On Mon, Nov 23, 2026 at 2:05 PM Lili wrote:\n> Hello") == ""
