"""A small client for the parts of Facebook's Graph API the Messenger channel uses: the Send API and
the User Profile API. The base URL is a setting, so everything can run against a stand-in server."""

import hashlib
import hmac
import logging

import httpx
from django.conf import settings

logger = logging.getLogger(__name__)

# Codes from the Messenger Platform's error reference.
RETRYABLE_CODES = {1, 2, 4, 17, 32, 613}  # unknown/temporary errors and the rate limits
TOKEN_EXPIRED_CODE = 190
USER_UNAVAILABLE_CODE = 551
PERMISSION_CODES = {10, 200, 230}


_client: httpx.Client | None = None


def _http() -> httpx.Client:
    """One connection pool per process: a new client per call would rebuild its TLS context every time."""
    global _client
    if _client is None:
        _client = httpx.Client()
    return _client


class GraphError(Exception):
    """Facebook refused or could not take a call; `code`/`subcode` are Facebook's own."""

    def __init__(self, message: str, *, code: int | None = None, subcode: int | None = None, status: int = 0):
        super().__init__(message)
        self.message = message
        self.code = code
        self.subcode = subcode
        self.status = status

    def __str__(self) -> str:
        return f"{self.message} (code {self.code}, subcode {self.subcode}, HTTP {self.status})"

    @property
    def is_retryable(self) -> bool:
        """Rate limits, temporary errors, server errors and network trouble pass; try again later."""
        return self.code in RETRYABLE_CODES or self.status >= 500 or self.status in (0, 429)

    @property
    def token_expired(self) -> bool:
        return self.code == TOKEN_EXPIRED_CODE

    @property
    def window_closed(self) -> bool:
        return self.code == 10 and self.subcode == 2018278

    @property
    def user_unavailable(self) -> bool:
        return self.code == USER_UNAVAILABLE_CODE

    @property
    def permission_refused(self) -> bool:
        return self.code in PERMISSION_CODES


class GraphClient:
    """Calls made with one page's access token."""

    def __init__(self, *, page_id: str, access_token: str, app_secret: str = ""):
        self.page_id = page_id
        self.access_token = access_token
        self.app_secret = app_secret

    def _params(self) -> dict:
        # The proof lets the app require it ("Require App Secret"); the token itself travels in a header
        # so it never shows up in a logged URL.
        if not self.app_secret:
            return {}
        proof = hmac.new(self.app_secret.encode(), self.access_token.encode(), hashlib.sha256).hexdigest()
        return {"appsecret_proof": proof}

    def _call(self, method: str, path: str, **kwargs) -> dict:
        url = f"{settings.FACEBOOK_GRAPH_URL.rstrip('/')}/{path.lstrip('/')}"
        try:
            response = _http().request(
                method,
                url,
                params=self._params() | kwargs.pop("params", {}),
                headers={"Authorization": f"Bearer {self.access_token}"},
                timeout=settings.FACEBOOK_GRAPH_TIMEOUT,
                **kwargs,
            )
        except httpx.HTTPError as error:
            raise GraphError(f"Facebook could not be reached: {error.__class__.__name__}") from error
        try:
            data = response.json()
        except ValueError:
            data = None
        if response.is_success and isinstance(data, dict):
            return data
        error = (data or {}).get("error") if isinstance(data, dict) else None
        if not isinstance(error, dict):
            raise GraphError(f"Facebook answered HTTP {response.status_code}", status=response.status_code)
        raise GraphError(
            str(error.get("message") or "Unknown error"),
            code=error.get("code"),
            subcode=error.get("error_subcode"),
            status=response.status_code,
        )

    def send_text(
        self, *, psid: str, text: str, messaging_type: str, tag: str | None = None, metadata: str | None = None
    ) -> str:
        """Send one text message; returns Facebook's message id (mid)."""
        message: dict = {"text": text}
        if metadata:
            message["metadata"] = metadata
        payload: dict = {"recipient": {"id": psid}, "messaging_type": messaging_type, "message": message}
        if tag:
            payload["tag"] = tag
        data = self._call("POST", f"{self.page_id}/messages", json=payload)
        if not data.get("message_id"):
            raise GraphError("Facebook did not return a message id", status=200)
        return data["message_id"]

    def user_profile(self, *, psid: str) -> dict:
        """The person's first and last name, when Facebook allows the page to see them."""
        return self._call("GET", psid, params={"fields": "first_name,last_name"})
