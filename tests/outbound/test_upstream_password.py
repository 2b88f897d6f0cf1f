"""The upstream's password can come from a file or the environment, never only the command line (issue #13, item 7).

A process's arguments are world-readable in `ps`; the server must log in to its upstream with a
password that appears in none of them.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from mailbeacon.cli import main

from tests.support.certs import make_certs
from tests.support.dashboard import add_user, send
from tests.support.servers import running_server
from tests.support.smtp import running_sink

SECRET = "s3cret p@ss/word"


@pytest.mark.parametrize("how", ["file", "environment"])
def test_the_upstream_login_uses_a_password_that_is_not_in_the_arguments(
    tmp_path: Path, how: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = tmp_path / "data"
    key = add_user(data, "ann@example.com", "--seat", "sales")["api_key"]
    secret_file = tmp_path / "upstream-password"
    secret_file.write_text(SECRET + "\n")
    extra: tuple[str, ...] = ("--upstream-password-file", str(secret_file))
    if how == "environment":
        monkeypatch.setenv("MAILBEACON_UPSTREAM_PASSWORD", SECRET)  # the server inherits it
        extra = ()
    certs = make_certs(tmp_path / "certs")
    upstream = "smtp://relay-user@127.0.0.1:{port}?starttls=require&verify=false"  # a self-made certificate
    with running_sink(tls=(certs.trusted.cert, certs.trusted.key), logins={"relay-user": SECRET}) as sink, \
            running_server(data, "--upstream", upstream.format(port=sink.port), *extra) as server:
        assert SECRET not in " ".join(map(str, server.process.args))  # what ps shows
        send(server.url, key, to="bob@example.org", subject="Hi", html="<p>Hi</p>")
        (got,) = sink.wait_for(1)
        assert got.login == "relay-user" and got.rcpt_tos == ["bob@example.org"]
        assert SECRET not in server.output()  # nor in the log


def test_a_password_for_an_upstream_without_a_user_is_refused(tmp_path: Path) -> None:
    secret_file = tmp_path / "upstream-password"
    secret_file.write_text(SECRET)
    result = CliRunner().invoke(main, ["serve", "--data", str(tmp_path / "data"), "--upstream", "smtp://127.0.0.1:1",
                                       "--upstream-password-file", str(secret_file)])
    assert result.exit_code == 2 and "names no user" in result.output
