"""How the REST API authenticates, limits and pages; shared by every app's `api.py` (errors: `api_errors`).

An API key acts as its agent, so the API can never do what that agent could not do in the dashboard:
the views call the same services and selectors, which apply the same permissions.
"""

from django.conf import settings
from django.utils.translation import gettext as _
from rest_framework import exceptions, permissions, serializers
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.pagination import CursorPagination
from rest_framework.throttling import SimpleRateThrottle

from . import services
from .cache import count
from .models import ApiKey


class ApiKeyAuthentication(BaseAuthentication):
    """`Authorization: Bearer <key>`; the request then acts as the key's agent."""

    keyword = "Bearer"

    def authenticate(self, request):
        header = get_authorization_header(request).split()
        if not header or header[0].lower() != self.keyword.lower().encode():
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed(_("The Authorization header is “Bearer <API key>”."))
        try:
            key = header[1].decode()
        except UnicodeError:
            raise exceptions.AuthenticationFailed(_("The API key is not valid.")) from None
        api_key = services.api_key_authenticate(key=key)
        if api_key is None:
            raise exceptions.AuthenticationFailed(_("The API key is not valid, or has been revoked."))
        return api_key.agent, api_key

    def authenticate_header(self, request):
        return self.keyword


class IsAgentWithWritableKey(permissions.BasePermission):
    """Any logged-in agent may read; a read-only key may not change anything."""

    message = _("This API key is read-only.")

    def has_permission(self, request, view):
        if not (request.user and request.user.is_authenticated):
            return False
        if request.method in permissions.SAFE_METHODS:
            return True
        return not (isinstance(request.auth, ApiKey) and request.auth.read_only)


class ApiKeyRateThrottle(SimpleRateThrottle):
    """Requests per key (per agent for the dashboard's session) in windows that start with a key's
    first request: a counter in the cache, so a check is one Redis round trip however high the limit
    (DRF's own keeps and rewrites every request's time on each request)."""

    scope = "api"
    # Not DRF's key: where its throttle kept a pickled list (until that window ends, after an upgrade),
    # INCR would fail and every request of the key would be a 500.
    cache_format = "throttle_count_%(scope)s_%(ident)s"

    def get_rate(self):
        # Read on each request, not at import, so the limit follows the settings.
        return settings.API_RATE_LIMIT

    def get_cache_key(self, request, view):
        if isinstance(request.auth, ApiKey):
            ident = f"key-{request.auth.prefix}"
        elif request.user and request.user.is_authenticated:
            ident = f"agent-{request.user.pk}"
        else:
            ident = f"ip-{self.get_ident(request)}"
        return self.cache_format % {"scope": self.scope, "ident": ident}

    def allow_request(self, request, view):
        key = self.get_cache_key(request, view)
        total, self.seconds_left = count(key, self.duration)
        return total <= self.num_requests

    def wait(self):
        return self.seconds_left


#: The largest id the API accepts anywhere; larger numbers do not fit a database's integer.
MAX_ID = 999_999_999_999_999_999


class IdConverter:
    """`<id:conversation_id>`: a positive whole number that fits the database, else the URL is a 404."""

    regex = "[0-9]{1,18}"

    def to_python(self, value: str) -> int:
        return int(value)

    def to_url(self, value) -> str:
        return str(value)


def id_field(**kwargs) -> serializers.IntegerField:
    return serializers.IntegerField(min_value=1, max_value=MAX_ID, **kwargs)


class NewestFirstPagination(CursorPagination):
    """Stable while new rows arrive (a cursor, not a page number) and never counts the whole table."""

    ordering = ("-created_at", "-id")
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200


class OldestFirstPagination(NewestFirstPagination):
    ordering = ("id",)


class NewestIdFirstPagination(NewestFirstPagination):
    ordering = ("-id",)
