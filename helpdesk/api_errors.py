"""How the REST API reports errors: one shape, `{"code", "message", "field"}`, for every error."""

from django.core.exceptions import ObjectDoesNotExist
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from .errors import ServiceError


def _first_error(detail, prefix: str = "") -> tuple[str | None, str]:
    """The field and message of the first error in DRF's nested error detail."""
    if isinstance(detail, dict):
        for key, value in detail.items():
            field = key if key != "non_field_errors" else None
            nested_field, message = _first_error(value)
            name = ".".join(part for part in (prefix, field, nested_field) if part)
            return name or None, message
    if isinstance(detail, list) and detail:
        return _first_error(detail[0], prefix)
    return (prefix or None), str(detail)


def exception_handler(exc, context):
    """Every error answers `{"code", "message", "field"}`: a ServiceError with its own status, DRF's
    errors (validation, authentication, throttling with Retry-After) with theirs. A row deleted while
    the request was working on it (a service re-reading it under its lock) is not found, not a 500."""
    if isinstance(exc, ServiceError):
        return Response(exc.as_dict(), status=exc.http_status)
    # Django's own (as DRF turns them into its own before answering), in the same shape as the rest.
    if isinstance(exc, (ObjectDoesNotExist, Http404)):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        field, message = _first_error(exc.detail)
        body = {"code": "invalid", "message": message, "errors": exc.detail}
        if field:
            body["field"] = field
        response.data = body
    elif isinstance(exc, exceptions.APIException):
        code = {
            status.HTTP_401_UNAUTHORIZED: "unauthenticated",
            status.HTTP_403_FORBIDDEN: "forbidden",
            status.HTTP_404_NOT_FOUND: "not_found",
            status.HTTP_429_TOO_MANY_REQUESTS: "throttled",
        }.get(response.status_code, exc.default_code)
        response.data = {"code": code, "message": str(exc.detail)}
    return response
