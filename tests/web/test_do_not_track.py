"""# issue #12: do-not-track is per user, with an admin-wide list.

Bob puts carol on his list in the dashboard: his mail to her goes untracked, alice's
stays tracked. An admin's admin-wide entry stops the tracking of everyone's mail.
A real `mailbeacon serve`; lists changed through the dashboard's forms and the CLI,
mail sent with POST /api/v1/messages.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
from click.testing import CliRunner

from mailbeacon.cli import main
from mailbeacon.submission.policy import Untracked
from tests.support.dashboard import Session, add_user, cli
from tests.support.servers import Server, running_server


def copy_to(server: Server, key: str, recipient: str) -> dict[str, Any]:
    message = {"to": recipient, "subject": "Hi", "html": "<p>Hi, <a href='https://example.com/x'>go</a></p>"}
    answer = httpx.post(f"{server.url}/api/v1/messages", headers={"Authorization": f"Bearer {key}"}, json=message,
                        timeout=10)
    assert answer.status_code == 202, answer.text
    (copy,) = answer.json()["copies"]
    return dict(copy)


def tracked(copy: dict[str, Any]) -> bool:
    return bool(copy["opens_tracked"])


def test_bobs_entry_leaves_alices_mail_tracked_and_an_admin_wide_entry_stops_everyones(tmp_path: Path) -> None:
    data = tmp_path / "data"
    alice = add_user(data, "alice@example.com", "--seat", "sales")
    bob = add_user(data, "bob@example.com", "--seat", "sales")
    add_user(data, "ada@example.com", "--admin")
    with running_server(data) as server, Session(server.url) as bob_at_dashboard, \
            Session(server.url) as ada_at_dashboard:
        assert tracked(copy_to(server, alice["api_key"], "carol@example.org"))
        bob_at_dashboard.login("bob@example.com")
        assert bob_at_dashboard.post("/settings/dnt/add", {"address": "Carol@Example.org"}).status_code == 303
        bobs = copy_to(server, bob["api_key"], "carol@example.org")
        assert not tracked(bobs) and bobs["untracked_reason"] == Untracked.DO_NOT_TRACK.value
        assert tracked(copy_to(server, alice["api_key"], "carol@example.org"))  # bob's list is not alice's
        # Even asking for the admin-wide list, bob only reaches his own.
        bob_at_dashboard.post("/settings/dnt/add", {"address": "dave@example.org", "scope": "global"})
        assert tracked(copy_to(server, alice["api_key"], "dave@example.org"))

        ada_at_dashboard.login("ada@example.com")
        ada_at_dashboard.post("/settings/dnt/add", {"address": "dave@example.org", "scope": "global"})
        for key in (alice["api_key"], bob["api_key"]):
            copy = copy_to(server, key, "Dave@example.org")
            assert not tracked(copy) and copy["untracked_reason"] == Untracked.DO_NOT_TRACK.value

        # The CLI names the list: --user EMAIL or --global.
        unnamed = CliRunner().invoke(main, ["dnt", "add", "erin@example.org", "--data", str(data)])
        assert unnamed.exit_code != 0 and "--user EMAIL" in unnamed.output
        cli("dnt", "add", "erin@example.org", "--user", "alice@example.com", "--data", str(data))
        assert not tracked(copy_to(server, alice["api_key"], "erin@example.org"))
        assert tracked(copy_to(server, bob["api_key"], "erin@example.org"))
        listed = cli("dnt", "list", "--data", str(data)).splitlines()
        assert listed == ["carol@example.org\tbob@example.com", "dave@example.org\tglobal",
                          "erin@example.org\talice@example.com"]
        assert cli("dnt", "list", "--user", "bob@example.com", "--data", str(data)).split() == ["carol@example.org"]
        cli("dnt", "remove", "dave@example.org", "--global", "--data", str(data))
        assert tracked(copy_to(server, alice["api_key"], "dave@example.org"))
