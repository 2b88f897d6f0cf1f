"""A real webhook receiver for tests: an HTTP server on 127.0.0.1:0 in a thread.

It checks every request's signature with its own few lines of hmac and base64,
written from the Standard Webhooks spec (not with mailbeacon's signer), and
again with the spec's reference library `standardwebhooks`, and answers with
the statuses a test scripts.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import standardwebhooks


def verify_by_hand(secret: str, headers: dict[str, str], body: bytes) -> bool:
    """The receiver's check, from the spec: HMAC-SHA256 over id.timestamp.body, key = base64 after whsec_."""
    key = base64.b64decode(secret[len("whsec_"):])
    signed = headers["webhook-id"].encode() + b"." + headers["webhook-timestamp"].encode() + b"." + body
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    offered = [s.split(",", 1) for s in headers["webhook-signature"].split(" ")]
    return any(version == "v1" and hmac.compare_digest(sig, expected) for version, sig in offered)


def verify_by_library(secret: str, headers: dict[str, str], body: bytes) -> bool:
    try:
        standardwebhooks.Webhook(secret).verify(body, headers)
    except standardwebhooks.WebhookVerificationError:
        return False
    return True


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    """Lower-cased names."""
    body: bytes
    answered: int
    """0: held, never answered (`Receiver.held_from`)."""
    verified: bool
    """Both the hand-written check and the reference library accepted the signature."""
    peer: str = ""
    """The sender's address (which node, tests/nodes)."""

    @property
    def id(self) -> str:
        return self.headers["webhook-id"]

    def json(self) -> Any:
        return json.loads(self.body)


class Receiver:
    def __init__(self, server: ThreadingHTTPServer) -> None:
        self._server = server
        self._lock = threading.Lock()
        self.received: list[Received] = []
        self.secrets: dict[str, str] = {}
        """Path -> the endpoint's secret; requests to a path without one count as unverified."""
        self.answers: dict[str, list[int]] = {}
        """Path -> statuses to answer in turn; when none are left, `defaults` (else 200)."""
        self.defaults: dict[str, int] = {}
        self.stalls: dict[str, list[float]] = {}
        """Path -> seconds to wait before answering, request by request (a slow receiver)."""
        self.first_of_each: dict[str, int] = {}
        """Path -> the status for the first request of each webhook-id (a receiver failing once, then fine)."""
        self.held_from: set[str] = set()
        """Peers whose requests are held unanswered until `let_go()`: a sender that hangs mid-attempt (tests/nodes)."""
        self.holding = threading.Event()
        """Set once a request is held."""
        self._let_go = threading.Event()

    def let_go(self) -> None:
        """Close the held requests unanswered (their sender is gone by then)."""
        self._let_go.set()

    def url(self, name: str = "hook") -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/{name}"

    def expect(self, endpoint: dict[str, Any]) -> str:
        """Verify what arrives at this endpoint's path with its secret; returns the path."""
        path = "/" + str(endpoint["url"]).split("/", 3)[3]
        with self._lock:
            self.secrets[path] = endpoint["secret"]
        return path

    def answer(self, headers: dict[str, str], body: bytes, path: str, peer: str = "") -> int:
        """The status to answer; 0: none, close the connection."""
        with self._lock:
            stalls = self.stalls.get(path)
            stall = stalls.pop(0) if stalls else 0.0
            held = peer in self.held_from
        time.sleep(stall)
        with self._lock:
            secret = self.secrets.get(path)
            verified = secret is not None and all(
                check(secret, headers, body) for check in (verify_by_hand, verify_by_library)
            )
            if held:
                self.received.append(Received(path, headers, body, 0, verified, peer))
                self.holding.set()
                status = 0
            else:
                scripted = self.answers.get(path)
                first = path in self.first_of_each and all(
                    r.headers.get("webhook-id") != headers.get("webhook-id") for r in self.received if r.path == path
                )
                status = self.first_of_each[path] if first else scripted.pop(0) if scripted else self.defaults.get(path, 200)
                self.received.append(Received(path, headers, body, status, verified, peer))
        if held:
            self._let_go.wait(60)
        return status

    def snapshot(self) -> list[Received]:
        with self._lock:
            return list(self.received)

    def wait_for(
        self, done: Callable[[list[Received]], bool], timeout: float = 15.0, what: str = "", path: str | None = None
    ) -> list[Received]:
        """Poll until `done(received)` (only those to `path`, if given); fail saying what arrived."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            seen = [r for r in self.snapshot() if path is None or r.path == path]
            if done(seen):
                return seen
            time.sleep(0.05)
        seen = self.snapshot()
        summary = [(r.answered, r.headers.get("webhook-id"), r.body[:120]) for r in seen]
        raise AssertionError(f"receiver: not {what or 'done'} after {timeout}s; got {summary}")


@contextmanager
def running_receiver(tls: ssl.SSLContext | None = None, host: str = "127.0.0.1") -> Iterator[Receiver]:
    """`tls`: answer HTTPS with this server context instead of plain HTTP."""
    receiver: Receiver

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("content-length", "0"))
            body = self.rfile.read(length)
            headers = {k.lower(): v for k, v in self.headers.items()}
            status = receiver.answer(headers, body, self.path, str(self.client_address[0]))
            reply = f"answered {status}".encode()
            if not status:
                self.close_connection = True
                return
            try:
                self.send_response(status)
                if 300 <= status < 400:
                    self.send_header("location", "/elsewhere")
                self.send_header("content-type", "text/plain")
                self.send_header("content-length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the sender gave up waiting (a timeout, a server stopping)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer((host, 0), Handler)
    if tls is not None:
        server.socket = tls.wrap_socket(server.socket, server_side=True)
    server.daemon_threads = True
    receiver = Receiver(server)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        receiver.let_go()
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
