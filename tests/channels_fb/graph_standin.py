"""A small Graph API stand-in on 127.0.0.1: it answers the Send API and the User Profile API the way
Facebook does, from a script per test, and records every request it got."""

import itertools
import json
import threading
from collections import defaultdict, deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

VERSION = "/v26.0"


def graph_error(code: int, message: str, *, subcode: int | None = None, status: int = 400) -> tuple[int, dict]:
    """An error body as Facebook sends it."""
    error = {"message": message, "type": "OAuthException", "code": code, "fbtrace_id": "AbCdEfGhIjK"}
    if subcode is not None:
        error["error_subcode"] = subcode
    return status, {"error": error}


RATE_LIMITED = graph_error(613, "Calls to this api have exceeded the rate limit.")
TEMPORARY_ERROR = graph_error(2, "An unexpected error has occurred. Please retry your request later.", status=500)
TOKEN_EXPIRED = graph_error(
    190, "Error validating access token: Session has expired on Friday, 20-Nov-26 09:00:00 PST.", subcode=463
)
WINDOW_CLOSED = graph_error(
    10,
    "(#10) This message is sent outside of allowed window. Learn more about the new policy here: "
    "https://developers.facebook.com/docs/messenger-platform/policy-overview",
    subcode=2018278,
)
USER_UNAVAILABLE = graph_error(551, "(#551) This person isn't available right now.", subcode=1545041)
PROFILE_REFUSED = graph_error(
    100,
    "Unsupported get request. Object with ID '6734419186622841' does not exist, cannot be loaded due to "
    "missing permissions, or does not support this operation.",
    subcode=33,
)


@dataclass
class Recorded:
    method: str
    path: str
    query: dict
    headers: dict
    json: dict | None


@dataclass
class GraphStandIn:
    url: str = ""
    requests: list[Recorded] = field(default_factory=list)
    scripts: dict = field(default_factory=lambda: defaultdict(deque))
    profile: dict = field(default_factory=lambda: {"first_name": "Vera", "last_name": "Vásárhelyi"})
    _mids: itertools.count = field(default_factory=lambda: itertools.count(1))

    def reset(self) -> None:
        self.requests.clear()
        self.scripts.clear()
        self._mids = itertools.count(1)
        self.profile = {"first_name": "Vera", "last_name": "Vásárhelyi"}

    def answer(self, method: str, path: str, *responses: tuple[int, dict]) -> None:
        """The next requests to `method path` get these answers, in order; later ones the default."""
        self.scripts[(method, path)].extend(responses)

    def sent(self) -> list[dict]:
        return [request.json for request in self.requests if request.method == "POST"]

    def respond(self, method: str, path: str, body: dict | None) -> tuple[int, dict]:
        if self.scripts[(method, path)]:
            return self.scripts[(method, path)].popleft()
        if method == "POST" and path.endswith("/messages"):
            return 200, {"recipient_id": body["recipient"]["id"], "message_id": f"m_standin_{next(self._mids)}"}
        if method == "GET":
            return 200, {**self.profile, "id": path.strip("/")}
        return 404, {"error": {"message": "Unknown path", "type": "GraphMethodException", "code": 100}}


def start(standin: GraphStandIn) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def _handle(self):
            parts = urlsplit(self.path)
            path = parts.path.removeprefix(VERSION)
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(length)) if length else None
            standin.requests.append(
                Recorded(self.command, path, parse_qs(parts.query), dict(self.headers.items()), body)
            )
            status, answer = standin.respond(self.command, path, body)
            data = json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = _handle

        def log_message(self, *args):  # keep the test output quiet
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    standin.url = f"http://127.0.0.1:{server.server_address[1]}{VERSION}"
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    return server
