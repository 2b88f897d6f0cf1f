"""Logging in and out of the dashboard against a real server: sessions, redirects, passwords, headers."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from selectolax.lexbor import LexborHTMLParser as HTMLParser

from tests.support.dashboard import PASSWORD, Session, add_user, cli
from tests.support.servers import Server, running_server

PAGES = ["/activity", "/messages", "/messages/1", "/contacts", "/contacts/bob@example.org", "/captured",
         "/captured/x", "/settings", "/settings/webhooks/1", "/users"]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    data = tmp_path_factory.mktemp("login") / "data"
    add_user(data, "ann@example.com", "--seat", "sales")
    add_user(data, "nopass@example.com", password=None)
    with running_server(data) as running:
        yield running


@pytest.mark.parametrize("path", PAGES)
def test_a_page_without_login_redirects_to_the_login_page(server: Server, path: str) -> None:
    with Session(server.url) as browser:
        response = browser.get(path)
        assert response.status_code == 303
        assert response.headers["location"].startswith("/login")
        assert "ann@example.com" not in response.text


def test_login_takes_you_to_the_page_you_asked_for(server: Server) -> None:
    with Session(server.url) as browser:
        asked = browser.get("/messages", recipient="bob@example.org")
        target = asked.headers["location"]
        assert target == "/login?next=%2Fmessages%3Frecipient%3Dbob%2540example.org"
        form = browser.page(target).css_first("#login-form input[name=next]")
        assert form is not None and form.attributes["value"] == "/messages?recipient=bob%40example.org"
        response = browser.login("ann@example.com", next="/messages?recipient=bob%40example.org")
        assert response.status_code == 303
        assert response.headers["location"] == "/messages?recipient=bob%40example.org"
        assert browser.page("/messages").css_first("#user-email").text() == "ann@example.com"


@pytest.mark.parametrize("target", ["//evil.example/", "https://evil.example/", "/\\evil.example", "javascript:alert(1)",
                                    "evil.example", "\t//evil.example", "/\t/evil.example", "/\r\nSet-Cookie: x=1"])
def test_login_never_sends_you_off_site(server: Server, target: str) -> None:
    with Session(server.url) as browser:
        response = browser.login("ann@example.com", next=target)
        assert response.status_code == 303
        assert response.headers["location"] == "/activity"


@pytest.mark.parametrize("email,password", [("ann@example.com", "wrong password!"), ("who@example.com", PASSWORD),
                                            ("nopass@example.com", PASSWORD), ("", "")],
                         ids=["wrong password", "unknown email", "no password set", "empty"])
def test_a_failed_login_says_only_wrong_email_or_password(server: Server, email: str, password: str) -> None:
    with Session(server.url) as browser:
        response = browser.login(email, password)
        assert response.status_code == 401
        error = HTMLParser(response.text).css_first("#login-error")
        assert error is not None and error.text().strip() == "wrong email or password"
        assert not browser.logged_in()


def test_logout_ends_the_session(server: Server) -> None:
    with Session(server.url) as browser:
        browser.login("ann@example.com")
        assert browser.logged_in()
        response = browser.post("/logout")
        assert response.status_code == 303 and response.headers["location"] == "/login"
        assert not browser.logged_in()


def test_a_new_password_logs_out_every_other_session(server: Server) -> None:
    with Session(server.url) as laptop, Session(server.url) as phone, Session(server.url) as tablet:
        laptop.login("ann@example.com")
        phone.login("ann@example.com")
        tablet.login("ann@example.com")
        # Changed in the dashboard: the laptop stays logged in, the phone is logged out.
        response = laptop.post("/settings/password", {"current": PASSWORD, "new": "a brand new passphrase",
                                                      "confirm": "a brand new passphrase"})
        assert response.status_code == 303
        assert "Password changed" in laptop.page("/settings").css_first("#flash").text()
        assert laptop.logged_in()
        assert not phone.logged_in()
        assert phone.login("ann@example.com").status_code == 401
        assert phone.login("ann@example.com", "a brand new passphrase").status_code == 303
        # Changed by an operator with the CLI: every session ends.
        cli("user", "password", "ann@example.com", "--password-stdin", "--data", str(server.data_dir),
            input=PASSWORD + "\n")
        assert not laptop.logged_in() and not phone.logged_in() and not tablet.logged_in()


def test_the_current_password_is_checked_before_a_change(server: Server) -> None:
    with Session(server.url) as browser:
        browser.login("ann@example.com")
        for fields, says in [
            ({"current": "not my password", "new": "another long one", "confirm": "another long one"},
             "current password is wrong"),
            ({"current": PASSWORD, "new": "another long one", "confirm": "a different one!"}, "differ"),
            ({"current": PASSWORD, "new": "short", "confirm": "short"}, "at least 10 characters"),
        ]:
            browser.post("/settings/password", fields)
            assert says in browser.page("/settings").css_first("#flash").text()
    with Session(server.url) as again:
        assert again.login("ann@example.com").status_code == 303  # nothing changed


def test_every_dashboard_response_carries_the_security_headers(server: Server) -> None:
    with Session(server.url) as browser:
        responses = [browser.get("/login"), browser.get("/activity"), browser.get("/static/dashboard.css"),
                     browser.get("/static/dashboard.js")]
        browser.login("ann@example.com")
        responses += [browser.get(path) for path in PAGES]
        for response in responses:
            csp = response.headers["content-security-policy"]
            assert "script-src 'self'" in csp and "object-src 'none'" in csp and "frame-ancestors 'self'" in csp
            assert "unsafe-inline" not in csp
            assert response.headers["x-content-type-options"] == "nosniff"
            assert response.headers["referrer-policy"] == "same-origin"


def test_the_session_cookie_is_http_only_and_same_site_lax(server: Server) -> None:
    with Session(server.url) as browser:
        browser.get("/login")
        response = browser.post("/login", {"email": "ann@example.com", "password": PASSWORD})
        cookie = response.headers["set-cookie"]
        assert cookie.startswith("mb_session=")
        assert "httponly" in cookie.lower() and "samesite=lax" in cookie.lower()


def test_login_starts_a_new_session_with_a_new_csrf_token(server: Server) -> None:
    with Session(server.url) as browser:
        browser.get("/login")
        before = browser.csrf()
        browser.login("ann@example.com")
        assert browser.csrf() and browser.csrf() != before



def test_password_guessing_locks_the_address_for_a_while_but_not_other_people(server: Server) -> None:
    add_user(server.data_dir, "target@example.com")
    with Session(server.url) as guesser:
        for _ in range(5):
            assert guesser.login("target@example.com", "not the password").status_code == 401
        locked = guesser.login("target@example.com")  # even the right password waits now
        assert locked.status_code == 429
        assert "too many failed logins: try again in 15 minutes" in locked.text
        assert guesser.login("TARGET@example.com").status_code == 429  # the same address in another case
    with Session(server.url) as ann:
        assert ann.login("ann@example.com").status_code == 303
