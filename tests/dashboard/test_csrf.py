"""CSRF: every form the dashboard draws, posted without its token or with another session's, is refused and changes nothing.

The forms are found by reading the pages an admin sees (so a new form is tested
without anyone listing it here), then filled with values that would be accepted.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from selectolax.lexbor import LexborNode

from mailbeacon.store import open_store
from tests.support.dashboard import PASSWORD, Session, add_user
from tests.support.servers import Server, running_server

FILLERS = {"email": "someone@example.org", "url": "http://127.0.0.1:9/hook", "password": "a long enough password",
           "number": "5", "search": "x@example.org", "text": "x"}


@dataclass(frozen=True)
class Form:
    page: str
    action: str
    fields: dict[str, str]
    token: str
    """The form's hidden csrf field ('' when it has none)."""

    def __str__(self) -> str:
        return f"{self.action} (on {self.page})"


@dataclass
class World:
    server: Server
    forms: list[Form]
    webhook_id: int


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    data = tmp_path_factory.mktemp("csrf") / "data"
    add_user(data, "ada@example.com", "--admin", "--seat", "sales")
    add_user(data, "eve@example.com")
    local = ("--webhook-allow-network", "127.0.0.0/8")  # the webhook forms post local URLs
    with running_server(data, *local) as server, Session(server.url) as ada:
        ada.login("ada@example.com")
        created = ada.post("/settings/webhooks", {"url": "http://127.0.0.1:9/hook", "events": "open"})
        assert created.status_code == 303, created.text
        webhook_id = int(created.headers["location"].rsplit("/", 1)[1])
        assert ada.post("/settings/dnt/add", {"address": "quiet@example.org"}).status_code == 303
        forms = [f for page in ("/activity", "/settings", "/users", f"/settings/webhooks/{webhook_id}")
                 for f in forms_on(ada, page)]
        with Session(server.url) as anonymous:
            forms += forms_on(anonymous, "/login")
        unique = {(f.action, tuple(sorted(f.fields.items()))): f for f in forms}  # logout is on every page
        yield World(server, list(unique.values()), webhook_id)


def forms_on(session: Session, page: str) -> list[Form]:
    found = []
    for form in session.page(page).css("form"):
        if str(form.attributes.get("method", "get")).lower() != "post":
            continue
        fields: dict[str, str] = {}
        token = form.css_first('input[name="csrf"]')
        for control in form.css("input, select"):
            name = control.attributes.get("name")
            if name and name != "csrf":
                value = _value(control)
                if value is not None:
                    fields[str(name)] = value
        value = str(token.attributes.get("value") or "") if token is not None else ""
        found.append(Form(page, str(form.attributes["action"]), fields, value))
    return found


def _value(control: LexborNode) -> str | None:
    kind = str(control.attributes.get("type") or "text").lower()
    if control.tag == "select":
        option = control.css_first("option")
        return str(option.attributes.get("value", option.text())) if option is not None else ""
    if kind in ("checkbox", "radio"):
        return str(control.attributes.get("value") or "on")
    return str(control.attributes.get("value") or FILLERS.get(kind, "x"))


def state(data: Path) -> dict[str, Any]:
    """Everything a dashboard form can change."""
    with open_store(f"sqlite:///{data / 'mailbeacon.db'}") as store:
        users = store.users()
        return {
            "users": [dataclasses.asdict(u) for u in users],
            "do_not_track": store.do_not_track_entries(),
            "webhooks": [dataclasses.asdict(w) for u in users for w in store.webhooks_of(u.id)],
            "settings": dataclasses.asdict(store.get_settings()),
        }


def test_the_admin_pages_have_every_kind_of_form(world: World) -> None:
    actions = {f.action for f in world.forms}
    expected = {"/login", "/logout", "/settings/notifications", "/settings/password", "/settings/webhooks",
                "/settings/dnt/add", "/settings/dnt/remove", "/settings/privacy", "/users", "/users/1",
                "/users/1/password", f"/settings/webhooks/{world.webhook_id}/delete",
                f"/settings/webhooks/{world.webhook_id}/enabled", f"/settings/webhooks/{world.webhook_id}/test"}
    assert expected <= actions, expected - actions
    for form in world.forms:
        assert form.token, f"{form} carries no CSRF token"


@pytest.mark.parametrize("token", ["none", "another session's", "empty", "forged"])
def test_a_form_without_this_sessions_token_is_refused_and_changes_nothing(world: World, token: str) -> None:
    with Session(world.server.url) as ada, Session(world.server.url) as eve:
        ada.login("ada@example.com")
        eve.login("eve@example.com")
        csrf = {"none": None, "another session's": eve.csrf(), "empty": "", "forged": "x" * 43}[token]
        for form in world.forms:
            before = state(world.server.data_dir)
            response = ada.post(form.action, form.fields, csrf=csrf)
            assert response.status_code == 403, f"{form}: {response.status_code}"
            assert "Refused" in response.text
            assert state(world.server.data_dir) == before, f"{form} changed something"
            assert ada.logged_in(), f"{form} logged the session out"


def test_login_without_its_token_logs_nobody_in(world: World) -> None:
    with Session(world.server.url) as browser:
        response = browser.post("/login", {"email": "ada@example.com", "password": PASSWORD}, csrf=None)
        assert response.status_code == 403
        assert not browser.logged_in()


def test_the_same_forms_with_the_token_go_through(world: World) -> None:
    """The refusals above are for the token, not for a broken form: with it, each form is accepted."""
    harmless = [f for f in world.forms if not f.action.endswith(("/delete", "/logout", "/password"))
                and f.action != "/login"]
    with Session(world.server.url) as ada:
        ada.login("ada@example.com")
        for form in harmless:
            response = ada.post(form.action, form.fields)
            assert response.status_code in (200, 303), f"{form}: {response.status_code} {response.text[:300]}"
        before = state(world.server.data_dir)
        assert ada.post(f"/settings/webhooks/{world.webhook_id}/delete").status_code == 303
        assert state(world.server.data_dir)["webhooks"] != before["webhooks"]
