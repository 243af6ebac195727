"""The Messenger webhook: Facebook's subscription check, and signed event POSTs stored for Celery."""

import json

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from . import selectors, services


@csrf_exempt
@require_http_methods(["GET", "POST"])
def webhook(request: HttpRequest) -> HttpResponse:
    if request.method == "GET":
        return _subscription_check(request)
    body = request.body
    if not selectors.signature_is_valid(body=body, header=request.headers.get("X-Hub-Signature-256")):
        return JsonResponse(
            {"code": "forbidden", "message": "Missing or wrong signature.", "field": "X-Hub-Signature-256"},
            status=403,
        )
    try:
        payload = json.loads(body.decode("utf-8"))  # Facebook posts UTF-8; anything else is not theirs
    except (ValueError, UnicodeDecodeError):
        return JsonResponse({"code": "invalid", "message": "The body is not JSON.", "field": "body"}, status=400)
    if not isinstance(payload, dict) or not isinstance(payload.get("entry", []), list):
        return JsonResponse(
            {"code": "invalid", "message": "Expected an object with a list of entries.", "field": "entry"},
            status=400,
        )
    services.webhook_delivery_store(body=body)
    return HttpResponse("EVENT_RECEIVED", content_type="text/plain")


def _subscription_check(request: HttpRequest) -> HttpResponse:
    """Facebook checks the webhook once, when the owner saves it in the app: we echo its challenge."""
    mode = request.GET.get("hub.mode")
    if mode == "subscribe" and selectors.verify_token_is_known(request.GET.get("hub.verify_token")):
        return HttpResponse(request.GET.get("hub.challenge", ""), content_type="text/plain")
    return HttpResponse("Wrong verify token.", status=403, content_type="text/plain")
