"""The chat box's pages: the loader script websites include, the chat box frame, and the demo website."""

from functools import cache

from django.conf import settings
from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.views.decorators.clickjacking import xframe_options_exempt
from django.views.decorators.http import require_GET

from helpdesk.models import Account

from . import widget


@cache
def _loader_source() -> bytes:
    return (widget.STATIC / "loader.js").read_bytes()


@require_GET
def widget_loader(request):
    """`/widget/loader.js` at a fixed address, so the snippet never changes; cached briefly so a new
    version reaches websites within minutes."""
    response = HttpResponse(_loader_source(), content_type="text/javascript; charset=utf-8")
    response["Cache-Control"] = "public, max-age=300"
    # Loaded by a plain <script> from any website: no credentials, readable by anyone.
    response["Access-Control-Allow-Origin"] = "*"
    response["Cross-Origin-Resource-Policy"] = "cross-origin"
    return response


@xframe_options_exempt
@require_GET
def widget_frame(request):
    """The chat box itself, shown in an iframe on the allowed websites only: the browser enforces the
    frame-ancestors policy, the frame script checks the parent's origin again."""
    account = Account.load()
    response = render(
        request,
        "conversations/widget_frame.html",
        {"account": account, "origins": account.origins},
    )
    response["Content-Security-Policy"] = widget.frame_ancestors(account)
    response["Cache-Control"] = "no-store"
    return response


@require_GET
def demo(request):
    """A pretend shop with the snippet embedded, to chat as a visitor right after `make run`."""
    if not settings.WIDGET_DEMO:
        raise Http404
    pages = {"": "Welcome", "shoes": "Running shoes", "hat": "Summer hat"}
    page = request.GET.get("page", "")
    base_url = request.build_absolute_uri("/").rstrip("/")
    return render(
        request,
        "conversations/demo.html",
        {
            "snippet": widget.snippet(base_url),
            "title": pages.get(page, pages[""]),
            "page": page,
        },
    )
