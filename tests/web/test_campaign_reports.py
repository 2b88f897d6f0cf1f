"""Campaign reports against a real `mailbeacon serve` delivering to a real aiosmtpd upstream.

Twenty contacts get a campaign sent with `mailbeacon campaign send --wait`: the upstream refuses
one address (550), one contact is on the do-not-track list, one has a spreadsheet formula for a
first name and another an address starting with `=`. Then readers come, an hour after delivery:
five people open in Thunderbird (three of them click), a Gmail proxy opens, Apple Mail Privacy
Protection prefetches four copies, a HEAD request probes a pixel and a link, and one reader
unsubscribes by RFC 8058 one-click POST. The report (API, CLI, CSV, dashboard) must say exactly
that, raw next to human; other users see no trace of the campaign.
"""

from __future__ import annotations

import csv
import email
import email.policy
import io
import json
import re
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner

from mailbeacon.cli import main
from mailbeacon.store import NewCampaign, open_store
from mailbeacon.views.campaign_csv import COLUMNS
from tests.dashboard.test_xss import assert_inert, visible_text
from tests.web.test_api_v1 import conforms
from tests.support.dashboard import Session, add_user, judged, wait_for
from tests.support.servers import Server, running_server
from tests.support.smtp import Received, Sink, running_sink

SALE = "https://shop.example/sale"
NEW = "https://shop.example/new?x=%22%3E%3Cscript%3Ealert(1)%3C/script%3E"
"""The link with a quote-breaking query, as tracked (percent-encoded, as a browser would send it)."""
TEMPLATE = (
    '<html><body><p>Hi {{ contact.first_name | default("there") }},</p>\n'
    f'<p><a href="{SALE}">Sale</a> and '
    '<a href="https://shop.example/new?x=&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;">New</a></p>\n'
    "</body></html>\n"
)
SUBJECT = "Spring <img src=x onerror=alert(1)> sale"
NAME = "spring"
FORMULA_NAME = '=HYPERLINK("http://evil.example","click me")'
FORMULA_EMAIL = "=hyperlink@example.org"
XSS_NAME = "<script>alert(1)</script>"
XSS_EMAIL = "o'xss@example.org"
BOUNCE, DNT = "bounce@example.org", "dnt@example.org"
READERS = [f"reader{n:02}@example.org" for n in range(1, 17)]
THUNDERBIRD = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:115.0) Gecko/20100101 Thunderbird/115.3.1"
CHROME = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36"
GMAIL = "Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)"
PEOPLE, PROXIED, PREFETCHED, PROBED = READERS[0:5], READERS[5], READERS[6:10], READERS[10]
UNSUBSCRIBER = READERS[11]
CLICKS = {READERS[0]: "Sale", READERS[1]: "Sale", READERS[2]: "New"}


@dataclass
class Copy:
    recipient: str
    message: EmailMessage

    @property
    def html(self) -> str:
        part = self.message.get_body(("html",))
        assert part is not None
        return str(part.get_content())

    @property
    def pixel(self) -> str:
        found = re.search(r'<img src="([^"]+/o/[^"]+\.gif)"', self.html)
        assert found, self.html
        return found.group(1)

    def link(self, text: str) -> str:
        found = re.search(r'href="([^"]+/c/[^"]+)"[^>]*>' + text + "<", self.html)
        assert found, self.html
        return found.group(1)

    @property
    def unsubscribe(self) -> str:
        return str(self.message["List-Unsubscribe"]).strip("<>")


@dataclass
class World:
    server: Server
    sink: Sink
    data: Path
    keys: dict[str, str]
    campaign_id: int
    message_id: int
    copies: dict[str, Copy]

    def api(self, path: str, user: str = "ann", **params: Any) -> httpx.Response:
        return httpx.get(self.server.url + path, params=params or None, timeout=30,
                         headers={"Authorization": f"Bearer {self.keys[user]}"})


def copies_of(received: list[Received], campaign_id: int) -> dict[str, Copy]:
    found = {}
    for r in received:
        message = email.message_from_bytes(r.content, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        if f".c{campaign_id}@" in str(message["Message-ID"]):
            found[r.rcpt_tos[0]] = Copy(r.rcpt_tos[0], message)
    return found


def campaign_send(data: Path, server: Server, name: str, *extra: str) -> subprocess.CompletedProcess[str]:
    template = data.parent / f"{name}.html"
    template.write_text(TEMPLATE)
    return subprocess.run(
        [sys.executable, "-m", "mailbeacon", "campaign", "send", "--name", name, "--list", "news",
         "--template", str(template), "--subject", SUBJECT, "--from", "Shop <ann@example.com>",
         "--as", "ann@example.com", "--base-url", server.url, "--data", str(data), "--wait", *extra],
        capture_output=True, text=True, timeout=120, check=True,
    )


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    data = tmp_path_factory.mktemp("campaign-reports") / "data"
    keys = {name: add_user(data, f"{name}@example.com", *flags)["api_key"]
            for name, flags in (("ann", ("--seat", "sales")), ("eve", ("--seat", "sales")), ("ada", ("--admin",)))}
    contacts = data.parent / "contacts.csv"
    with contacts.open("w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["email", "first_name"])
        writer.writerows([(r, f"Reader {n}") for n, r in enumerate(READERS, 1)])
        writer.writerows([(FORMULA_EMAIL, FORMULA_NAME), (XSS_EMAIL, XSS_NAME), (BOUNCE, "Bo"), (DNT, "Dee")])
    runner = CliRunner()
    for args in (["contacts", "import", str(contacts), "--list", "news"], ["dnt", "add", DNT, "--global"]):
        result = runner.invoke(main, [*args, "--data", str(data)])
        assert result.exit_code == 0, result.output
    with running_sink() as sink:
        sink.handler.reply = lambda envelope: (
            "550 5.1.1 <bounce@example.org>: no such user" if BOUNCE in envelope.rcpt_tos else "250 2.0.0 OK"
        )
        with running_server(data, "--upstream", sink.url) as server:
            campaign_send(data, server, NAME)
            with sqlite3.connect(data / "mailbeacon.db") as db:
                campaign_id, message_id = db.execute(
                    "SELECT id, message_id FROM campaigns WHERE name = ?", (NAME,)).fetchone()
                # An hour later: the readers come long after delivery (a click seconds after it is a scanner's).
                db.execute("UPDATE deliveries SET accepted_at = accepted_at - 3600, created_at = created_at - 3600 "
                           "WHERE message_id = ?", (message_id,))
            copies = copies_of(sink.received, campaign_id)
            load_readers(server, copies)
            judged(server.url, keys["ada"], 15)
            yield World(server, sink, data, keys, campaign_id, message_id, copies)


def load_readers(server: Server, copies: dict[str, Copy]) -> None:
    with httpx.Client(timeout=10) as client:
        def hit(url: str, agent: str, ip: str, method: str = "GET") -> None:
            answer = client.request(method, url, headers={"User-Agent": agent, "X-Forwarded-For": ip})
            assert answer.status_code in (200, 302), answer.text

        for n, reader in enumerate(PEOPLE, 10):
            hit(copies[reader].pixel, THUNDERBIRD, f"198.51.100.{n}")
            if reader in CLICKS:
                hit(copies[reader].link(CLICKS[reader]), CHROME, f"198.51.100.{n}")
        hit(copies[PROXIED].pixel, GMAIL, "66.249.93.10")
        for n, reader in enumerate(PREFETCHED, 10):
            hit(copies[reader].pixel, "Mozilla/5.0", f"17.58.63.{n}")
        hit(copies[PROBED].pixel, "curl/8.5.0", "203.0.113.9", "HEAD")
        hit(copies[PROBED].link("Sale"), "curl/8.5.0", "203.0.113.9", "HEAD")
        gone = client.post(copies[UNSUBSCRIBER].unsubscribe, data={"List-Unsubscribe": "One-Click"})
        assert gone.status_code == 200, gone.text


# --- the report JSON -------------------------------------------------------------------------------------


def test_the_report_counts_people_and_machines_apart(world: World) -> None:
    report = world.api(f"/api/v1/campaigns/{world.campaign_id}").json()
    assert report["name"] == NAME and report["subject"] == SUBJECT and report["status"] == "done"
    assert report["message_id"] == world.message_id and report["list"]["name"] == "news"
    assert report["progress"] == {"total": 20, "queued": 20, "skipped": 0, "sent": 19, "bounced": 1, "pending": 0,
                                  "withdrawn": 0, "done": 1.0}
    opens, clicks = report["opens"], report["clicks"]
    assert (opens["raw"], opens["human"], opens["machine"], opens["unique"], opens["unique_human"]) == (11, 6, 5, 11, 6)
    assert (clicks["raw"], clicks["human"], clicks["machine"], clicks["unique"], clicks["unique_human"]) == (4, 3, 1, 4, 3)
    assert report["rates"]["open"] == pytest.approx(6 / 19) and report["rates"]["open_raw"] == pytest.approx(11 / 19)
    assert report["rates"]["click"] == pytest.approx(3 / 19) and report["rates"]["bounce"] == pytest.approx(1 / 20)
    points = report["timeline"]["points"]
    assert report["timeline"]["bucket"] == "hour"
    assert sum(p["opens"]["raw"] for p in points) == 11 and sum(p["opens"]["human"] for p in points) == 6
    assert sum(p["clicks"]["human"] for p in points) == 3 and sum(p["clicks"]["machine"] for p in points) == 1
    daily = world.api(f"/api/v1/campaigns/{world.campaign_id}", bucket="day").json()["timeline"]
    assert daily["bucket"] == "day" and sum(p["opens"]["raw"] for p in daily["points"]) == 11


def test_the_report_names_top_links_clients_and_what_was_not_tracked(world: World) -> None:
    report = world.api(f"/api/v1/campaigns/{world.campaign_id}").json()
    assert [(link["url"], link["clicks"]) for link in report["links"]] == [
        (SALE, {"raw": 3, "human": 2}), (NEW, {"raw": 1, "human": 1}),
    ]  # the honeypot is no link anyone chose
    clients = {c["client"]: (c["human"], c["machine"]) for c in report["clients"]}
    assert clients["Thunderbird (Windows)"] == (5, 0) and clients["Chrome (Windows)"] == (3, 0)
    assert clients["Gmail (image proxy)"] == (1, 0) and clients["Apple Mail (Privacy Protection)"] == (0, 4)
    devices = {d["device"]: d["human"] for d in report["devices"]}
    assert devices["Windows"] == 8 and devices["image proxy"] == 1
    untrackable = report["untrackable"]
    assert untrackable["copies"] == 1 and untrackable["share"] == pytest.approx(1 / 20)
    assert untrackable["reasons"] == [
        {"reason": "recipient is on the do-not-track list", "opens_tracked": False, "copies": 1}
    ]
    assert report["unsubscribes"] == 1
    assert [(u["email"], u["source"]) for u in report["unsubscribed"]] == [(UNSUBSCRIBER, "one-click")]
    assert [b["recipient"] for b in report["bounces"]] == [BOUNCE] and "550" in report["bounces"][0]["reply"]
    assert report["recipients_csv"] == f"/api/v1/campaigns/{world.campaign_id}/recipients.csv"


def test_the_list_and_the_messages_filter_find_the_campaign(world: World) -> None:
    listed = world.api("/api/v1/campaigns").json()
    assert [c["name"] for c in listed["campaigns"]][-1] == NAME and listed["next"] is None
    mine = next(c for c in listed["campaigns"] if c["id"] == world.campaign_id)
    assert mine["progress"]["sent"] == 19 and mine["opens"]["unique_human"] == 6 and mine["unsubscribes"] == 1
    messages = world.api("/api/v1/messages", campaign=str(world.campaign_id)).json()["messages"]
    assert [(m["id"], m["source"], m["recipients"]) for m in messages] == [(world.message_id, "campaign", 20)]
    assert world.api("/api/v1/messages", campaign="999999").json()["messages"] == []
    assert world.api("/api/v1/messages", campaign="spring").status_code == 400


def test_another_users_campaign_does_not_exist_for_them(world: World) -> None:
    for path in (f"/api/v1/campaigns/{world.campaign_id}", f"/api/v1/campaigns/{world.campaign_id}/recipients.csv"):
        assert world.api(path, "eve").status_code == 404
        assert world.api(path, "ada").status_code == 200  # an admin sees every campaign
    assert world.api("/api/v1/campaigns", "eve").json() == {"campaigns": [], "next": None}
    assert world.api("/api/v1/messages", "eve", campaign=str(world.campaign_id)).json()["messages"] == []
    assert world.api("/api/v1/campaigns/99999").status_code == 404
    assert world.api(f"/api/v1/campaigns/{world.campaign_id}", bucket="week").status_code == 400
    assert httpx.get(f"{world.server.url}/api/v1/campaigns").status_code == 401


def test_answers_match_the_documented_schemas(world: World) -> None:
    document = httpx.get(f"{world.server.url}/api/v1/openapi.json").json()
    for path, template in [("/api/v1/campaigns", "/api/v1/campaigns"),
                           (f"/api/v1/campaigns/{world.campaign_id}", "/api/v1/campaigns/{campaign_id}")]:
        operation = document["paths"][template]["get"]
        schema = operation["responses"]["200"]["content"]["application/json"]["schema"]
        conforms(document, schema, world.api(path).json())
    missing = document["paths"]["/api/v1/campaigns/{campaign_id}"]["get"]["responses"]["404"]
    conforms(document, missing["content"]["application/json"]["schema"], world.api("/api/v1/campaigns/99999").json())
    assert "text/csv" in document["paths"]["/api/v1/campaigns/{campaign_id}/recipients.csv"]["get"]["responses"]["200"][
        "content"]


# --- CSV -----------------------------------------------------------------------------------------------------


def csv_rows(text: str) -> dict[str, dict[str, str]]:
    return {row["email"]: row for row in csv.DictReader(io.StringIO(text))}


def test_the_csv_has_a_row_per_recipient_and_guards_formulas(world: World) -> None:
    response = world.api(f"/api/v1/campaigns/{world.campaign_id}/recipients.csv")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
    assert "attachment" in response.headers["content-disposition"]
    assert response.text.splitlines()[0] == ",".join([*COLUMNS, "first_name"])
    rows = csv_rows(response.text)
    assert len(rows) == 20
    first = rows[READERS[0]]
    assert (first["status"], first["opens_raw"], first["opens_human"], first["clicks_human"]) == ("sent", "1", "1", "1")
    assert first["first_open"].endswith("+00:00") and first["first_open"] == first["first_human_open"]
    assert first["clients"] == "Chrome (Windows); Thunderbird (Windows)"  # one event each: by name
    assert first["first_name"] == "Reader 1" and first["unsubscribed"] == "no"
    assert rows[PREFETCHED[0]]["opens_raw"] == "1" and rows[PREFETCHED[0]]["opens_human"] == "0"
    assert rows[BOUNCE]["status"] == "bounced" and "550" in rows[BOUNCE]["bounce_reason"]
    assert rows[UNSUBSCRIBER]["unsubscribed"] == "this campaign" and rows[UNSUBSCRIBER]["unsubscribed_at"]
    formula = rows["'" + FORMULA_EMAIL]  # spreadsheets show these as text, they do not run them
    assert formula["first_name"] == "'" + FORMULA_NAME
    assert not [cell for row in rows.values() for cell in row.values() if cell[:1] in ("=", "+", "-", "@")]
    assert rows[XSS_EMAIL]["first_name"] == XSS_NAME  # CSV is data: nothing to escape but formulas


# --- the CLI -------------------------------------------------------------------------------------------------


def test_the_cli_report_is_the_api_report(world: World, tmp_path: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(main, ["campaign", "report", NAME, "--json", "--data", str(world.data)])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == world.api(f"/api/v1/campaigns/{world.campaign_id}").json()
    out = tmp_path / "recipients.csv"
    result = runner.invoke(main, ["campaign", "report", NAME, "--csv", str(out), "--data", str(world.data)])
    assert result.exit_code == 0, result.output
    assert out.read_bytes() == world.api(f"/api/v1/campaigns/{world.campaign_id}/recipients.csv").content
    result = runner.invoke(main, ["campaign", "report", "nope", "--data", str(world.data)])
    assert result.exit_code != 0 and "no campaign 'nope'" in result.output


def test_the_cli_report_shows_tables_human_next_to_raw(world: World) -> None:
    result = CliRunner().invoke(main, ["campaign", "report", NAME, "--data", str(world.data)])
    assert result.exit_code == 0, result.output
    text = result.stdout
    for expected in ("campaign spring", "Opens and clicks", "opened (unique)", "6  31.6%", "11  57.9%", "Top links",
                     SALE, "Thunderbird (Windows)", "Apple Mail (Privacy Protection)", "Devices",
                     "recipient is on the do-not-track list", "unsubscribes: 1", UNSUBSCRIBER, "bounces: 1", BOUNCE):
        assert expected in text, (expected, text)
    assert text.index(SALE) < text.index("https://shop.example/new")  # the top link first


# --- the dashboard -------------------------------------------------------------------------------------------


@pytest.fixture
def ann(world: World) -> Iterator[Session]:
    with Session(world.server.url) as session:
        session.login("ann@example.com")
        yield session


def test_the_campaigns_page_lists_progress_and_rates(world: World, ann: Session) -> None:
    tree = ann.page("/campaigns")
    row = next(r for r in tree.css(".campaign-row") if r.attributes.get("data-id") == str(world.campaign_id))
    assert row.css_first(".campaign-name").text() == NAME
    assert row.css_first("progress").attributes["value"] == "1.0"
    cells = [c.text(separator=" ").split() for c in row.css("td")]
    assert "32%" in cells[3] and "58%" in cells[3]  # opened: human 6/19, raw 11/19
    assert tree.css_first("#nav-campaigns").attributes.get("aria-current") == "page"


def test_the_campaign_page_shows_the_report(world: World, ann: Session) -> None:
    tree = ann.page(f"/campaigns/{world.campaign_id}")
    assert tree.css_first("#campaign-name").text() == NAME and tree.css_first("#campaign-subject").text() == SUBJECT
    counts = {dd.attributes["data-field"]: dd.text() for dd in tree.css("#progress-counts dd")}
    assert counts == {"total": "20", "queued": "20", "sent": "19", "bounced": "1", "pending": "0", "skipped": "0"}
    assert tree.css_first("#campaign-progress").attributes.get("data-poll") is None  # done: nothing moves
    stats = " ".join(tree.css_first("#campaign-stats").text(separator=" ").split())
    assert "6 of 19 delivered" in stats and "32% human · 58% raw" in stats
    links = tree.css("#top-links .link-row")
    assert links[0].css_first(".url").text() == SALE and links[1].css_first(".url").text() == NEW
    assert [c.text() for c in tree.css("#clients .client-name")][:1] == ["Thunderbird (Windows)"]
    assert tree.css_first("#untrackable-share").text() == "5%"
    assert [li.css_first(".recipient").text() for li in tree.css("#unsubscribed-list li")] == [UNSUBSCRIBER]
    assert [li.css_first(".recipient").text() for li in tree.css("#bounce-list li")] == [BOUNCE]
    assert tree.css_first("#timeline-chart") is not None
    assert tree.css_first("#csv-download").attributes["href"] == f"/api/v1/campaigns/{world.campaign_id}/recipients.csv"
    download = ann.get(f"/api/v1/campaigns/{world.campaign_id}/recipients.csv")  # the session may download it
    assert download.status_code == 200 and len(csv_rows(download.text)) == 20


def test_campaign_pages_are_404_for_other_users(world: World) -> None:
    with Session(world.server.url) as eve:
        eve.login("eve@example.com")
        assert eve.get(f"/campaigns/{world.campaign_id}").status_code == 404
        assert eve.post(f"/campaigns/{world.campaign_id}/resume").status_code == 404
        assert NAME not in eve.get("/campaigns").text
        assert eve.get("/campaigns/not-a-number").status_code == 404


def test_hostile_subjects_names_and_urls_render_inert(world: World, ann: Session) -> None:
    for path in ("/campaigns", f"/campaigns/{world.campaign_id}", "/campaigns/new"):
        response = ann.get(path)
        assert response.status_code == 200, path
        tree = assert_inert(response.text, path)
        if path != "/campaigns/new":
            assert SUBJECT in visible_text(tree), path
    assert NEW in visible_text(assert_inert(ann.get(f"/campaigns/{world.campaign_id}").text, "report"))


def test_the_preview_renders_one_contacts_copy_in_a_sandbox(world: World, ann: Session) -> None:
    ann.page("/campaigns/new")
    fields = {"list": "news", "subject": "Hi {{ contact.first_name }}", "html": TEMPLATE, "preview_contact": XSS_EMAIL}
    shown = ann.post("/campaigns/preview", fields)
    assert shown.status_code == 200
    assert "sandbox" in shown.headers["content-security-policy"]
    assert "Hi &lt;script&gt;alert(1)&lt;/script&gt;," in shown.text and XSS_NAME not in shown.text
    broken = ann.post("/campaigns/preview", {**fields, "html": "<p>{{ contact.first_name </p>"})
    assert broken.status_code == 200 and "line 1" in broken.text
    assert ann.post("/campaigns/preview", fields, csrf=None).status_code == 403


def test_a_campaign_started_from_the_dashboard_is_sent(world: World, ann: Session) -> None:
    ann.page("/campaigns/new")
    name = "<b>launch</b> & co"
    fields = {"name": name, "list": "news", "subject": SUBJECT, "from": "Shop <ann@example.com>", "html": TEMPLATE,
              "rate": "", "rate_unit": "second"}
    refused = ann.post("/campaigns/new", fields, csrf=None)
    assert refused.status_code == 403
    assert ann.post("/campaigns/new", {**fields, "html": "{% if %}"}).status_code == 400  # the template's error
    assert name not in world.api("/api/v1/campaigns").text
    before = len(world.sink.received)
    started = ann.post("/campaigns/new", fields)
    assert started.status_code == 303, started.text
    campaign_id = int(started.headers["location"].rsplit("/", 1)[1])

    def finished() -> dict[str, Any] | None:
        report: dict[str, Any] = world.api(f"/api/v1/campaigns/{campaign_id}").json()
        return report if report["status"] == "done" else None

    report = wait_for(finished, "the dashboard's campaign to be delivered", timeout=60)
    # The reader who unsubscribed, and the one whose copy of the first campaign hard-bounced (issue #15)
    assert report["name"] == name and report["progress"]["skipped"] == 2
    assert (report["progress"]["sent"], report["progress"]["bounced"]) == (18, 0)
    assert sorted(copies_of(world.sink.received[before:], campaign_id)) == sorted(
        r for r in [*READERS, FORMULA_EMAIL, XSS_EMAIL, DNT] if r not in (UNSUBSCRIBER, BOUNCE)
    )
    page = ann.page(f"/campaigns/{campaign_id}")
    assert page.css_first("#campaign-name").text() == name
    assert ann.post("/campaigns/new", fields).status_code == 400  # the name is taken now


def test_a_stopped_campaign_is_resumed_from_the_dashboard(world: World, ann: Session) -> None:
    with open_store(f"sqlite:///{world.data / 'mailbeacon.db'}") as store:  # created, then the sender died
        owner, news = store.user_by_email("ann@example.com"), store.list_named("news")
        assert owner is not None and news is not None
        row = store.create_campaign(NewCampaign(
            name="stopped", user_id=owner.id, list_id=news.id, subject="Stopped", from_address="ann@example.com",
            html=TEMPLATE, text=None, base_url=world.server.url, rate=None,
        ))
    page = ann.page(f"/campaigns/{row.id}")
    assert page.css_first("#campaign-status").text() == "sending" and page.css_first("#resume-form") is not None
    assert page.css_first("#campaign-progress").attributes.get("data-poll") == f"/api/v1/campaigns/{row.id}"
    assert ann.post(f"/campaigns/{row.id}/resume", csrf=None).status_code == 403
    resumed = ann.post(f"/campaigns/{row.id}/resume")
    assert resumed.status_code == 303 and resumed.headers["location"] == f"/campaigns/{row.id}"

    def finished() -> dict[str, Any] | None:
        report: dict[str, Any] = world.api(f"/api/v1/campaigns/{row.id}").json()
        return report if report["status"] == "done" else None

    progress = wait_for(finished, "the resumed campaign to be delivered", timeout=60)["progress"]
    assert (progress["queued"], progress["skipped"], progress["sent"], progress["bounced"]) == (18, 2, 18, 0)
    assert ann.page(f"/campaigns/{row.id}").css_first("#resume-form") is None  # nothing left to resume
