"""The chat box a website embeds: the snippet its owner pastes, and who may frame the chat box."""

import gzip
import json
from pathlib import Path

from helpdesk.models import Account

STATIC = Path(__file__).resolve().parent / "static" / "widget"
# What the chat box puts on a visitor's page (recordings load separately, and only where they are on).
PAGE_FILES = ("loader.js", "frame.js", "frame.css")

SNIPPET = (
    "<script>(function(w,d,u){{w.helpdesk=w.helpdesk||function(){{(w.helpdesk.q=w.helpdesk.q||[]).push(arguments)}};"
    'var s=d.createElement("script");s.async=1;s.src=u+"/widget/loader.js";d.head.appendChild(s)}})'
    "(window,document,{base_url});</script>"
)


def snippet(base_url: str) -> str:
    """The one `<script>` a website owner pastes into their pages: a queue for API calls made before the
    loader arrives, and the loader itself, fetched from this helpdesk."""
    # json.dumps quotes the URL for JavaScript; "</" cannot occur in an origin, so the tag cannot close early.
    return SNIPPET.format(base_url=json.dumps(base_url.rstrip("/")))


def frame_ancestors(account: Account | None = None) -> str:
    """The Content-Security-Policy that lets only the allowed websites (and the helpdesk) show the chat box."""
    account = account or Account.load()
    origins = dict.fromkeys(origin for origin in account.origins if _is_origin(origin))
    return " ".join(["frame-ancestors 'self'", *origins])


def _is_origin(value: str) -> bool:
    # A stray character would let one line rewrite the whole policy; lines are validated on save as well.
    return value.startswith(("http://", "https://")) and not any(char in value for char in " ;,'\"\n\r\t")


def page_weight_gzipped() -> int:
    """Bytes the chat box adds to a visitor's page: each of its files gzipped, as it is served."""
    return sum(len(gzip.compress((STATIC / name).read_bytes(), 9)) for name in PAGE_FILES)
