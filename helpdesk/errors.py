"""The one exception type services raise when they refuse an action or reject input.

Each adapter turns it into its own kind of error: an HTTP status in the API, a websocket error
frame, a message in the admin or the dashboard.
"""

from contextlib import contextmanager

from django.db import IntegrityError, transaction


class ServiceError(Exception):
    """A refusal or invalid input, with a machine-readable code and, when known, the field at fault."""

    #: code -> the HTTP status an API answers with
    STATUS = {"invalid": 400, "forbidden": 403, "not_found": 404, "conflict": 409, "rate_limited": 429}

    def __init__(self, message: str, *, code: str = "invalid", field: str | None = None):
        if code not in self.STATUS:
            raise ValueError(f"unknown ServiceError code {code!r}")
        super().__init__(message)
        self.message = message
        self.code = code
        self.field = field

    @property
    def http_status(self) -> int:
        return self.STATUS[self.code]

    def as_dict(self) -> dict:
        data = {"code": self.code, "message": self.message}
        if self.field:
            data["field"] = self.field
        return data


@contextmanager
def refused_on_conflict(error: ServiceError):
    """Write under a savepoint, and raise `error` if a unique constraint refuses it: the value another
    transaction took after the service's own check is refused as that check refuses it, and the
    caller's transaction stays usable."""
    try:
        with transaction.atomic():
            yield
    except IntegrityError:
        raise error from None
