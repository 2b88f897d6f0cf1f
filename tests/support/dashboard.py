"""A person at the dashboard without a browser: an httpx client that keeps its cookies, logs in, posts forms.

Users are made and given passwords with the CLI, as an operator would.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import httpx
from click.testing import CliRunner
from selectolax.lexbor import LexborHTMLParser as HTMLParser

from mailbeacon.cli import main

PASSWORD = "correct horse battery"
T = TypeVar("T")


def cli(*args: str, input: str | None = None) -> str:
    result = CliRunner().invoke(main, list(args), input=input)
    assert result.exit_code == 0, result.output
    return result.stdout


def add_user(data: Path, email: str, *flags: str, password: str | None = PASSWORD) -> dict[str, str]:
    """`mailbeacon user add` (and `user password` unless password is None); returns the credentials."""
    created: dict[str, str] = json.loads(cli("user", "add", email, *flags, "--json", "--data", str(data)))
    if password is not None:
        cli("user", "password", email, "--password-stdin", "--data", str(data), input=password + "\n")
    return created


def wait_for(condition: Callable[[], T], what: str, timeout: float = 20.0) -> T:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = condition()
        if found:
            return found
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def judged(url: str, admin_key: str, count: int) -> list[dict[str, Any]]:
    """Wait until the pipeline has judged at least `count` events, and every event there is; returns them."""

    def done() -> list[dict[str, Any]]:
        response = httpx.get(f"{url}/api/v1/events", params={"limit": 1000},
                             headers={"Authorization": f"Bearer {admin_key}"}, timeout=10)
        events: list[dict[str, Any]] = response.json()["events"]
        return events if len(events) >= count and all(e["class"] for e in events) else []

    return wait_for(done, f"the pipeline to judge {count} events")


def send(url: str, api_key: str, **message: Any) -> int:
    """POST /api/v1/messages; the new message's id."""
    response = httpx.post(f"{url}/api/v1/messages", json=message,
                          headers={"Authorization": f"Bearer {api_key}"}, timeout=10)
    assert response.status_code == 202, response.text
    return int(response.json()["message_id"])


class Session:
    """One browser's worth of cookies against one server; redirects are not followed, so tests see them."""

    def __init__(self, url: str) -> None:
        self.client = httpx.Client(base_url=url, timeout=10)
        self.token = ""
        """The CSRF token of the last page read."""

    def __enter__(self) -> Session:
        return self

    def __exit__(self, *exc: object) -> None:
        self.client.close()

    def get(self, path: str, **params: Any) -> httpx.Response:
        response = self.client.get(path, params=params or None)
        self._remember_token(response)
        return response

    def page(self, path: str) -> HTMLParser:
        response = self.get(path)
        assert response.status_code == 200, (path, response.status_code, response.text[:500])
        return HTMLParser(response.text)

    def post(self, path: str, data: dict[str, Any] | None = None, csrf: str | None = "session") -> httpx.Response:
        """A form POST; csrf="session" sends this session's token, None sends none, anything else as given."""
        fields = dict(data or {})
        if csrf == "session":
            fields["csrf"] = self.csrf()
        elif csrf is not None:
            fields["csrf"] = csrf
        response = self.client.post(path, data=fields)
        self._remember_token(response)
        return response

    def csrf(self) -> str:
        if not self.token:
            self.get("/login")
        return self.token

    def login(self, email: str, password: str = PASSWORD, next: str | None = None) -> httpx.Response:
        self.token = ""
        self.get("/login")
        response = self.post("/login", {"email": email, "password": password, **({"next": next} if next else {})})
        if response.status_code == 303:
            self.get(response.headers["location"])  # the new session's token
        return response

    def logged_in(self) -> bool:
        return self.client.get("/activity").status_code == 200

    def _remember_token(self, response: httpx.Response) -> None:
        if response.headers.get("content-type", "").startswith("text/html"):
            meta = HTMLParser(response.text).css_first('meta[name="csrf-token"]')
            if meta is not None and meta.attributes.get("content"):
                self.token = str(meta.attributes["content"])


@contextmanager
def logged_in(url: str, email: str, password: str = PASSWORD) -> Iterator[Session]:
    """A Session logged in as `email`, closed afterwards."""
    with Session(url) as session:
        session.login(email, password)
        yield session
