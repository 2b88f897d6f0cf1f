"""A real SMTP upstream for tests (aiosmtpd on 127.0.0.1) and a real client of the relay (smtplib)."""

from __future__ import annotations

import base64
import json
import smtplib
import socket
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session


@dataclass(frozen=True)
class Received:
    mail_from: str
    rcpt_tos: list[str]
    content: bytes
    """The exact bytes the upstream received (dot-unstuffed)."""
    mail_options: list[str]
    login: str | None = None
    """Who logged in (AUTH), on a sink that asks for it."""
    peer: str = ""
    """The address the copy came from (which node delivered it, tests/nodes)."""


@dataclass
class SinkHandler:
    received: list[Received] = field(default_factory=list)
    reply: Callable[[Envelope], str] = lambda envelope: "250 2.0.0 OK"
    """Answer to DATA; return a 4xx or 5xx to refuse."""
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        answer = self.reply(envelope)
        if answer.startswith("250"):
            with self.lock:
                self.received.append(
                    Received(
                        envelope.mail_from or "",
                        list(envelope.rcpt_tos),
                        envelope.original_content or b"",
                        list(envelope.mail_options),
                        session.auth_data if isinstance(session.auth_data, str) else None,
                        str(session.peer[0]) if session.peer else "",
                    )
                )
        return answer


class _QuietSession(Session):
    """aiosmtpd sets its deprecated `login_data` on every successful AUTH, warning each time: tests turn
    warnings into errors, which would fail the login inside the server."""

    @property
    def login_data(self) -> object:
        return self._login_data

    @login_data.setter
    def login_data(self, value: object) -> None:
        self._login_data = value


class _SubmissionSMTP(SMTP):
    def _create_session(self) -> Session:
        return _QuietSession(self.loop)


class _SubmissionController(Controller):
    def factory(self) -> SMTP:
        return _SubmissionSMTP(self.handler, **self.SMTP_kwargs)


class Sink:
    """An upstream mail server that keeps what it accepts.

    With `tls` (certificate, key) it offers STARTTLS and requires it; with `logins` it requires
    AUTH (after STARTTLS) with one of them: a user's own submission server (issue #14)."""

    def __init__(
        self, port: int = 0, tls: tuple[Path, Path] | None = None, logins: dict[str, str] | None = None,
        host: str = "127.0.0.1",
    ) -> None:
        self.handler = SinkHandler()
        self.host = host
        self.port = port or free_port(host)
        self._controller: Controller | None = None
        self._tls = tls
        self._logins = logins

    @property
    def url(self) -> str:
        return f"smtp://{self.host}:{self.port}"

    @property
    def received(self) -> list[Received]:
        with self.handler.lock:
            return list(self.handler.received)

    def start(self) -> Sink:
        options: dict[str, object] = {}
        if self._tls is not None:
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(*self._tls)
            options.update(tls_context=context, require_starttls=True)
        if self._logins is not None:
            logins = self._logins

            def authenticate(server: SMTP, session: Session, envelope: Envelope, mechanism: str,
                             auth_data: object) -> AuthResult:
                ok = isinstance(auth_data, LoginPassword) and logins.get(auth_data.login.decode()) == \
                    auth_data.password.decode()
                return AuthResult(success=ok, handled=False,  # handled=True would send no reply at all
                                  auth_data=auth_data.login.decode() if ok else None)  # type: ignore[union-attr]

            options.update(auth_required=True, authenticator=authenticate, auth_require_tls=self._tls is not None)
        self._controller = (_SubmissionController if self._logins is not None else Controller)(
            self.handler, hostname=self.host, port=self.port, enable_SMTPUTF8=True, **options  # type: ignore[arg-type]
        )
        self._controller.start()
        return self

    def stop(self) -> None:
        controller, self._controller = self._controller, None
        if controller is not None:
            controller.stop()
            controller.loop.close()  # Controller.stop leaves its loop open

    def wait_for(self, count: int, timeout: float = 20.0) -> list[Received]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            got = self.received
            if len(got) >= count:
                return got
            time.sleep(0.05)
        raise AssertionError(f"the upstream received {len(self.received)} messages, expected {count}")


@contextmanager
def running_sink(
    port: int = 0, tls: tuple[Path, Path] | None = None, logins: dict[str, str] | None = None,
    host: str = "127.0.0.1",
) -> Iterator[Sink]:
    sink = Sink(port, tls, logins, host).start()
    try:
        yield sink
    finally:
        sink.stop()


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


@dataclass(frozen=True)
class User:
    email: str
    api_key: str
    smtp_password: str


def add_user(data_dir: Path, email: str, *options: str) -> User:
    out = subprocess.run(
        [sys.executable, "-m", "mailbeacon", "user", "add", email, "--json", "--data", str(data_dir), *options],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    created = json.loads(out)
    return User(created["email"], created["api_key"], created["smtp_password"])


@contextmanager
def relay_client(address: tuple[str, int], user: User | None = None) -> Iterator[smtplib.SMTP]:
    """smtplib on the relay, after STARTTLS (the self-signed certificate is not verified) and AUTH."""
    with smtplib.SMTP(*address, timeout=30) as client:
        client.starttls()
        client.ehlo()
        if user is not None:
            client.login(user.email, user.smtp_password)
        yield client


class RawSmtp:
    """An SMTP client that sends command lines byte for byte (NULs, bad UTF-8 and all) and reads replies.

    smtplib would refuse to send or would encode such lines; the relay must answer them itself.
    """

    def __init__(self, address: tuple[str, int], source: str = "127.0.0.1", timeout: float = 30.0) -> None:
        self.sock = socket.create_connection(address, timeout=timeout, source_address=(source, 0))
        self._reader = self.sock.makefile("rb")
        self.greeting = self.reply()

    def reply(self) -> tuple[int, bytes]:
        """(code, text of every line); (0, b"") when the server has closed the connection."""
        lines = []
        while True:
            line = self._reader.readline()
            if not line:
                return 0, b"".join(lines)
            lines.append(line[4:].rstrip(b"\r\n"))
            if line[3:4] != b"-":
                return int(line[:3]), b"\n".join(lines)

    def command(self, line: bytes | str) -> tuple[int, bytes]:
        self.sock.sendall((line.encode() if isinstance(line, str) else line) + b"\r\n")
        return self.reply()

    def plain_auth(self, login: str, password: str) -> int:
        """AUTH PLAIN with an initial response (RFC 4616); the reply code."""
        blob = base64.b64encode(f"\0{login}\0{password}".encode()).decode()
        return self.command(f"AUTH PLAIN {blob}")[0]

    def close(self) -> None:
        self._reader.close()
        self.sock.close()

    def __enter__(self) -> RawSmtp:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
