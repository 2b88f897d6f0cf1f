"""A user sees only what they sent, on every page; another user's ids are pages that do not exist; admin pages too."""

from __future__ import annotations

from urllib.parse import quote

import pytest

from mailbeacon.store import open_store
from tests.dashboard.conftest import API_SUBJECT, Hostile
from tests.support.dashboard import Session


def anns_pages(world: Hostile) -> list[str]:
    copy = world.captured["ann"][0]
    return [
        f"/messages/{world.api_message}", *(f"/messages/{m}" for m in world.recorded),
        "/contacts/bob@example.org", *(f"/contacts/{quote(r, safe='')}" for r in world.recipients),
        f"/captured/{copy.path.name}", f"/captured/{copy.path.name}/html",
        f"/settings/webhooks/{world.ann_webhook}",
    ]


def test_another_users_messages_contacts_mail_and_webhooks_are_404(hostile: Hostile) -> None:
    with Session(hostile.server.url) as eve:
        eve.login("eve@example.com")
        for path in anns_pages(hostile):
            response = eve.get(path)
            assert response.status_code == 404, path
            assert "bob@example.org" not in response.text and "ann-hook" not in response.text, path
            assert "Not found" in response.text


def test_the_sender_and_an_admin_see_them(hostile: Hostile) -> None:
    with Session(hostile.server.url) as ann, Session(hostile.server.url) as ada:
        ann.login("ann@example.com")
        ada.login("ada@example.com")
        for path in anns_pages(hostile):
            assert ann.get(path).status_code == 200, path
            if "/settings/webhooks/" not in path:  # an endpoint and its secret are its owner's alone
                assert ada.get(path).status_code == 200, path
        assert ada.get(f"/settings/webhooks/{hostile.ann_webhook}").status_code == 404


@pytest.mark.parametrize("path", ["/activity", "/messages", "/contacts", "/captured", "/settings"])
def test_lists_show_a_user_only_their_own_mail(hostile: Hostile, path: str) -> None:
    with Session(hostile.server.url) as eve, Session(hostile.server.url) as ann:
        eve.login("eve@example.com")
        ann.login("ann@example.com")
        seen_by_eve = eve.page(path).body.text()  # type: ignore[union-attr]
        seen_by_ann = ann.page(path).body.text()  # type: ignore[union-attr]
        for anns in ("bob@example.org", API_SUBJECT, "ann-hook", *hostile.recipients):
            assert anns not in seen_by_eve, (path, anns)
        for eves in ("carol@example.net", "Eve's own news"):
            assert eves not in seen_by_ann, (path, eves)


def test_ids_that_are_not_ids_are_404(hostile: Hostile) -> None:
    with Session(hostile.server.url) as ann:
        ann.login("ann@example.com")
        for path in ["/messages/0", "/messages/-1", "/messages/abc", "/messages/99999999999999999999",
                     "/contacts/nobody@example.org", "/captured/..%2F..%2Fmailbeacon.db", "/captured/x/html",
                     "/settings/webhooks/999", "/settings/webhooks/x"]:
            assert ann.get(path).status_code == 404, path


@pytest.mark.parametrize("method,path,fields", [
    ("GET", "/users", {}),
    ("POST", "/users", {"email": "mallory@example.com", "seat": "sales", "admin": "on"}),
    ("POST", "/users/1", {"seat": "sales", "admin": "on"}),
    ("POST", "/users/1/password", {"password": "taken over at last"}),
    ("POST", "/settings/privacy", {"ip_truncate_after_days": "", "retention_days": ""}),
])
def test_admin_pages_tell_others_they_are_for_admins_and_change_nothing(
    hostile: Hostile, method: str, path: str, fields: dict[str, str]
) -> None:
    with open_store(f"sqlite:///{hostile.server.data_dir / 'mailbeacon.db'}") as store:
        store.do_not_track_add("someone@example.org", user_id=None)
        before = (store.users(), store.get_settings(), store.do_not_track_entries())
    with Session(hostile.server.url) as eve:
        eve.login("eve@example.com")
        response = eve.get(path) if method == "GET" else eve.post(path, fields)
        assert response.status_code == 403 and "This page is for admins" in response.text  # issue #13, item 12
        assert "Users" not in (eve.page("/activity").css_first("#nav").text())  # type: ignore[union-attr]
    with open_store(f"sqlite:///{hostile.server.data_dir / 'mailbeacon.db'}") as store:
        assert (store.users(), store.get_settings(), store.do_not_track_entries()) == before


def test_only_an_admin_changes_the_admin_wide_do_not_track_list(hostile: Hostile) -> None:
    # issue #12: bob could turn off the tracking of alice's recipients through the one shared list.
    with open_store(f"sqlite:///{hostile.server.data_dir / 'mailbeacon.db'}") as store:
        store.do_not_track_add("someone@example.org", user_id=None)
        before = store.do_not_track_entries()
    with Session(hostile.server.url) as eve:
        eve.login("eve@example.com")
        for path, address in (("/settings/dnt/add", "other@example.org"),
                              ("/settings/dnt/remove", "someone@example.org")):
            assert eve.post(path, {"address": address, "scope": "global"}).status_code == 303
        assert "Only an admin" in eve.page("/settings").text()
        assert eve.page("/settings").css_first("#dnt-global-list") is None
    with open_store(f"sqlite:///{hostile.server.data_dir / 'mailbeacon.db'}") as store:
        assert store.do_not_track_entries() == before


@pytest.mark.parametrize("path", [
    "/activity?before=-5", "/activity?before=99999999999999999999999", "/activity?before=1e9",
    "/messages?after=nan:1", "/messages?after=inf:1", "/messages?after=1:99999999999999999999", "/messages?after=x",
    "/messages?sort=%00&dir=sideways&opened=maybe&period=forever", "/messages?recipient=%00%27%22",
    "/contacts?page=999999999999999999", "/contacts?page=0&sort=nonsense", "/messages/1?before=abc",
])
def test_odd_query_strings_read_as_defaults_not_errors(hostile: Hostile, path: str) -> None:
    with Session(hostile.server.url) as ann:
        ann.login("ann@example.com")
        assert ann.get(path).status_code == 200, path
