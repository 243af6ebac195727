"""Pieces every `api.py` uses to describe itself in the OpenAPI schema."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.utils import OpenApiExample, OpenApiResponse
from rest_framework import serializers


class ErrorSerializer(serializers.Serializer):
    code = serializers.CharField(help_text="invalid, unauthenticated, forbidden, not_found, conflict or throttled")
    message = serializers.CharField()
    field = serializers.CharField(required=False, help_text="The field or filter at fault, when there is one.")


def _error(description: str, code: str, message: str, field: str | None = None) -> OpenApiResponse:
    value = {"code": code, "message": message} | ({"field": field} if field else {})
    return OpenApiResponse(ErrorSerializer, description, examples=[OpenApiExample(code, value=value)])


BAD_REQUEST = _error("Invalid input; `field` names it.", "invalid", "Enter a whole number.", "rating")
UNAUTHENTICATED = _error("No valid API key or session.", "unauthenticated", "The API key is not valid.")
FORBIDDEN = _error("The key's agent may not do this, or the key is read-only.", "forbidden", "Read-only key.")
NOT_FOUND = _error("No such thing, or not yours to see.", "not_found", "No such conversation.")
CONFLICT = _error("The action does not fit the current state.", "conflict", "Already rated.")
THROTTLED = _error("Too many requests; see Retry-After.", "throttled", "Request was throttled.")

READ_ERRORS = {400: BAD_REQUEST, 401: UNAUTHENTICATED, 403: FORBIDDEN, 404: NOT_FOUND, 429: THROTTLED}
WRITE_ERRORS = READ_ERRORS | {409: CONFLICT}


class ApiKeyScheme(OpenApiAuthenticationExtension):
    target_class = "helpdesk.rest.ApiKeyAuthentication"
    name = "apiKey"

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "bearer", "description": "An API key the owner created in the admin."}
