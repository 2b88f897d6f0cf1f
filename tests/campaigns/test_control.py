# issue #13, item 6: pause, resume and cancel of a campaign, in the CLI, the API and the dashboard.
"""Pause, resume and cancel against a real `mailbeacon serve` delivering to a real aiosmtpd upstream.

A campaign paced at 2 copies a second makes "mid-run" deterministic: it is paused after a
few copies arrived, nothing more arrives while it is paused, and the resume sends everyone
else, each exactly once. A cancelled one sends nobody more and says so (withdrawn copies).
The queueing itself stops between two batches when the campaign is paused from elsewhere.
"""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner

from mailbeacon.campaigns.sending import CampaignSender, CampaignSpec, open_campaign
from mailbeacon.cli import main
from mailbeacon.store import Store, open_store
from mailbeacon.tokens import Keyring
from tests.support.dashboard import Session, add_user, wait_for
from tests.support.servers import Server, running_server
from tests.support.smtp import Received, Sink, running_sink
from tests.web.test_api_v1 import conforms

MB = [sys.executable, "-m", "mailbeacon"]
TEMPLATE = "<html><body><p>Hi {{ contact.first_name }}</p></body></html>\n"
SETTLE = 1.5
"""Seconds for a copy a sender took just before the pause to reach the upstream (it is not called back)."""
LISTS = {"paced": 12, "cancelled": 10, "api": 3, "held": 4, "big": 400}


def members(list_name: str) -> list[str]:
    return [f"{list_name}{n:03}@example.org" for n in range(LISTS[list_name])]


@dataclass
class World:
    server: Server
    sink: Sink
    data: Path
    keys: dict[str, str]

    def send(self, name: str, *extra: str, wait: bool = False) -> subprocess.CompletedProcess[str]:
        """`mailbeacon campaign send NAME` to the list of that name, as ann."""
        return subprocess.run(
            [*MB, "campaign", "send", "--name", name, "--list", name, "--template", str(self.data.parent / "t.html"),
             "--subject", "Hi {{ contact.first_name }}", "--from", "Ann <ann@example.com>", "--as", "ann@example.com",
             "--base-url", self.server.url, "--data", str(self.data), *(["--wait"] if wait else []), *extra],
            capture_output=True, text=True, timeout=120,
        )

    def campaign_id(self, name: str) -> int:
        with open_store(f"sqlite:///{self.data / 'mailbeacon.db'}") as store:
            found = store.campaign_named(name)
        assert found is not None
        return found.id

    def api(self, method: str, path: str, user: str = "ann", **kwargs: Any) -> httpx.Response:
        return httpx.request(method, self.server.url + path, timeout=30,
                             headers={"Authorization": f"Bearer {self.keys[user]}"}, **kwargs)

    def report(self, name: str) -> dict[str, Any]:
        answer = self.api("GET", f"/api/v1/campaigns/{self.campaign_id(name)}")
        assert answer.status_code == 200, answer.text
        found: dict[str, Any] = answer.json()
        return found

    def arrived(self, name: str) -> list[Received]:
        return [r for r in self.sink.received if r.rcpt_tos[0].startswith(name)]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    data = tmp_path_factory.mktemp("control") / "data"
    keys = {name: add_user(data, f"{name}@example.com", *flags)["api_key"]
            for name, flags in (("ann", ("--seat", "sales")), ("eve", ("--seat", "sales")))}
    (data.parent / "t.html").write_text(TEMPLATE)
    for list_name in LISTS:
        contacts = data.parent / f"{list_name}.csv"
        contacts.write_text("email,first_name\n" + "".join(f"{a},Reader{n}\n" for n, a in enumerate(members(list_name))))
        result = CliRunner().invoke(main, ["contacts", "import", str(contacts), "--list", list_name, "--data", str(data)])
        assert result.exit_code == 0, result.output
    with running_sink() as sink, running_server(data, "--upstream", sink.url) as server:
        yield World(server, sink, data, keys)


def test_pause_holds_the_rest_and_resume_sends_each_contact_exactly_once(world: World) -> None:
    queued = world.send("paced", "--rate", "2/s")
    assert queued.returncode == 0, queued.stderr
    campaign_id = world.campaign_id("paced")
    wait_for(lambda: len(world.arrived("paced")) >= 3, "three copies")
    paused = world.api("POST", f"/api/v1/campaigns/{campaign_id}/pause")
    assert paused.status_code == 200, paused.text
    assert paused.json()["status"] == "paused" and paused.json()["paused_at"]
    time.sleep(SETTLE)
    before = len(world.arrived("paced"))
    assert before < LISTS["paced"]
    time.sleep(3)  # at 2 a second, six more would have left
    assert len(world.arrived("paced")) == before, "nothing is delivered while the campaign is paused"
    report = world.report("paced")
    assert report["status"] == "paused" and report["progress"]["pending"] == LISTS["paced"] - before
    again = world.api("POST", f"/api/v1/campaigns/{campaign_id}/pause")  # already so: no error, no change
    assert again.status_code == 200 and again.json()["paused_at"] == paused.json()["paused_at"]

    resumed = world.api("POST", f"/api/v1/campaigns/{campaign_id}/resume")
    assert resumed.status_code == 200, resumed.text
    assert resumed.json()["status"] == "queued" and resumed.json()["paused_at"] is None
    world.sink.wait_for(len(world.sink.received) + LISTS["paced"] - before, timeout=30)
    time.sleep(SETTLE)  # a copy sent twice would arrive now
    assert Counter(r.rcpt_tos[0] for r in world.arrived("paced")) == Counter(members("paced"))
    done = wait_for(lambda: (r := world.report("paced"))["status"] == "done" and r, "the campaign to be done")
    assert (done["progress"]["sent"], done["progress"]["withdrawn"]) == (LISTS["paced"], 0)


def test_cancel_leaves_the_rest_unsent_and_the_report_says_withdrawn(world: World) -> None:
    assert world.send("cancelled", "--rate", "1/s").returncode == 0
    wait_for(lambda: len(world.arrived("cancelled")) >= 2, "two copies")
    cancelled = CliRunner().invoke(main, ["campaign", "cancel", "cancelled", "--data", str(world.data)])
    assert cancelled.exit_code == 0, cancelled.output
    assert "cancelled;" in cancelled.stdout and "withdrawn" in cancelled.stdout
    time.sleep(SETTLE)
    sent = len(world.arrived("cancelled"))
    time.sleep(2.5)
    assert len(world.arrived("cancelled")) == sent < LISTS["cancelled"], "a cancelled campaign sends nobody more"
    progress = world.report("cancelled")["progress"]
    assert world.report("cancelled")["status"] == "cancelled"
    assert (progress["sent"], progress["withdrawn"], progress["pending"]) == (sent, LISTS["cancelled"] - sent, 0)
    rows = list(csv.DictReader(io.StringIO(
        world.api("GET", f"/api/v1/campaigns/{world.campaign_id('cancelled')}/recipients.csv").text)))
    assert Counter(row["status"] for row in rows) == Counter({"sent": sent, "withdrawn": LISTS["cancelled"] - sent})
    refused = world.api("POST", f"/api/v1/campaigns/{world.campaign_id('cancelled')}/resume")
    assert refused.status_code == 409 and "cancelled" in refused.json()["error"]
    resumed = subprocess.run([*MB, "campaign", "resume", "cancelled", "--data", str(world.data)],
                             capture_output=True, text=True, timeout=60)
    assert resumed.returncode == 1 and "was cancelled" in resumed.stderr


def test_the_api_answers_404_for_others_409_for_what_cannot_be_and_wants_csrf_on_a_session(world: World) -> None:
    assert world.send("api", wait=True).returncode == 0
    done = world.campaign_id("api")
    for action in ("pause", "resume", "cancel"):
        assert world.api("POST", f"/api/v1/campaigns/{done}/{action}", "eve").status_code == 404
        assert world.api("POST", f"/api/v1/campaigns/999999/{action}").status_code == 404
        assert httpx.post(f"{world.server.url}/api/v1/campaigns/{done}/{action}", timeout=10).status_code == 401
        refused = world.api("POST", f"/api/v1/campaigns/{done}/{action}")
        assert refused.status_code == 409 and "done" in refused.json()["error"], refused.text
    assert world.report("api")["status"] == "done"

    assert world.send("held", "--rate", "1/h").returncode == 0  # the first copy leaves, the rest wait an hour each
    held = world.campaign_id("held")
    wait_for(lambda: len(world.arrived("held")) == 1, "the first copy")
    document = httpx.get(f"{world.server.url}/api/v1/openapi.json", timeout=10).json()
    with Session(world.server.url) as ann:
        ann.login("ann@example.com")
        path = f"/api/v1/campaigns/{held}/pause"
        assert ann.client.post(path).status_code == 403  # the session cookie alone is not enough
        paused = ann.client.post(path, headers={"x-csrf-token": ann.csrf()})
        assert paused.status_code == 200, paused.text
    schema = document["paths"]["/api/v1/campaigns/{campaign_id}/pause"]["post"]["responses"]["200"]
    conforms(document, schema["content"]["application/json"]["schema"], paused.json())
    cancelled = world.api("POST", f"/api/v1/campaigns/{held}/cancel")
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    assert cancelled.json()["progress"]["withdrawn"] == LISTS["held"] - 1


def test_a_sender_stops_between_batches_when_paused_and_resume_queues_the_rest_once(world: World) -> None:
    url = f"sqlite:///{world.data / 'mailbeacon.db'}"
    sender = subprocess.Popen(
        [*MB, "campaign", "send", "--name", "big", "--list", "big", "--template", str(world.data.parent / "t.html"),
         "--subject", "Hi", "--from", "ann@example.com", "--as", "ann@example.com", "--rate", "1/h",
         "--base-url", world.server.url, "--data", str(world.data), "--batch", "1"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    with open_store(url) as store:
        row = wait_for(lambda: (found := store.campaign_named("big")) is not None and found.queued >= 10 and found,
                       "the sender to queue ten", timeout=60)
        assert store.pause_campaign(row.id)
        out, err = sender.communicate(timeout=60)
        assert sender.returncode == 3, out + err
        assert "was paused meanwhile" in err and "mailbeacon campaign resume big" in err
        stopped = store.campaign(row.id)
        assert stopped is not None and stopped.status == "sending" and stopped.queued < LISTS["big"]
        time.sleep(0.5)
        still = store.campaign(row.id)
        assert still is not None and still.queued == stopped.queued  # no batch after the pause
    resumed = subprocess.run([*MB, "campaign", "resume", "big", "--data", str(world.data)],
                             capture_output=True, text=True, timeout=120)
    assert resumed.returncode == 0, resumed.stderr
    assert "resumed" in resumed.stdout and f"{LISTS['big']} copies queued" in resumed.stdout
    status = json.loads(subprocess.run([*MB, "campaign", "status", "big", "--json", "--data", str(world.data)],
                                       capture_output=True, text=True, timeout=60, check=True).stdout)
    assert (status["status"], status["queued"], status["skipped"]) == ("queued", LISTS["big"], 0)
    with open_store(url) as store:
        assert store.cancel_campaign(row.id)  # the rest would take 400 hours


def test_the_queueing_loop_looks_before_each_batch(tmp_path: Path) -> None:
    """The sender the server's thread runs: paused after its first batch, it queues no second one."""
    data = tmp_path / "data"
    add_user(data, "ann@example.com", "--admin", password=None)
    contacts = tmp_path / "c.csv"
    contacts.write_text("email\n" + "".join(f"r{n}@example.org\n" for n in range(10)))
    assert CliRunner().invoke(main, ["contacts", "import", str(contacts), "--list", "l", "--data", str(data)]).exit_code == 0
    with open_store(f"sqlite:///{data / 'mailbeacon.db'}") as store:
        spec = CampaignSpec(name="c", list_name="l", html=TEMPLATE, text=None, subject="Hi", from_address="a@example.com",
                            base_url="http://t.example")
        row, _ = open_campaign(store, spec)
        keyring = Keyring.load_or_create(data)
        progress = CampaignSender(store, keyring, row, batch=3).run(on_batch=lambda p: store.pause_campaign(row.id))
        assert (progress.paused, progress.done, progress.queued) == (True, False, 3)
        queued = _queued(store, row.id)
        assert queued == 3
        again = CampaignSender(store, keyring, store.campaign(row.id) or row, batch=3).run()
        assert again.paused and again.queued == 3  # still paused: nothing queued
        assert store.resume_campaign(row.id)
        rest = CampaignSender(store, keyring, store.campaign(row.id) or row, batch=3).run()
        assert (rest.done, rest.queued) == (True, 10) and _queued(store, row.id) == 10
        assert store.cancel_campaign(row.id) and not store.pause_campaign(row.id)
        cancelled = CampaignSender(store, keyring, store.campaign(row.id) or row).run()
        assert cancelled.done  # over: nothing to do


def _queued(store: Store, campaign_id: int) -> int:
    found = store.campaign(campaign_id)
    assert found is not None
    return found.queued
