"""Captured mail as its sender reads it (issue #13, items 3, 4 and 10), against a real `mailbeacon serve`.

Ann (not an admin) sends a campaign from "Shop News <news@shop.example>" (its copies carry
the invisible honeypot link) and, with `mailbeacon send`, a message with attachments, one of
them hostile HTML; Eve sends one of her own. Ann must find her campaign's copies, each link
with its target and no honeypot, every view of a copy (text, headers, raw source, links) as
escaped text, the attachments and the .eml as downloads only, and a search by recipient and
subject; Eve must find none of it.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path

import pytest
from selectolax.lexbor import LexborHTMLParser as HTMLParser

from mailbeacon.outbound import Captured, read_captured
from tests.support.dashboard import Session, add_user, cli, logged_in, send, wait_for
from tests.support.servers import Server, running_server

CAMPAIGN_SUBJECT = "Spring offers"
TEMPLATE = '<html><body><p>Hi {{ contact.first_name }},</p><p><a href="https://shop.example/spring">Spring offers</a></p></body></html>'
READERS = ["reader1@example.org", "reader2@example.org"]
INVOICE = "Invoice 42 for Bob"
PDF = b"%PDF-1.4\n" + bytes(range(256)) * 8
HOSTILE_HTML = b"<html><script>alert('attachment')</script><p>run me</p></html>"
SVG = b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"><script>alert(2)</script></svg>'
HOSTILE_TEXT = "Dear Bob,\n<script>alert('text')</script>\nthe invoice is attached.\n"


@dataclass
class World:
    server: Server
    copies: list[Captured]
    invoice: Captured
    eve_copy: Captured

    def campaign_copies(self) -> list[Captured]:
        return [c for c in self.copies if c.subject == CAMPAIGN_SUBJECT]


def invoice_message() -> bytes:
    message = EmailMessage()
    message["From"] = "Ann <ann@example.com>"
    message["To"] = "bob@example.org"
    message["Subject"] = INVOICE
    message.set_content(HOSTILE_TEXT)
    message.add_alternative('<p>Dear Bob, <a href="https://shop.example/invoices/42">your invoice</a>.</p>'
                            "<script>alert('html')</script>", subtype="html")
    message.add_attachment(PDF, maintype="application", subtype="pdf", filename="invoice 42 (€).pdf")
    message.add_attachment(HOSTILE_HTML, maintype="text", subtype="html", filename="../../run-me.html")
    message.add_attachment(SVG, maintype="image", subtype="svg+xml", filename="logo.svg")
    return message.as_bytes()


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    data = tmp_path_factory.mktemp("captured-mail") / "data"
    keys = {name: add_user(data, f"{name}@example.com", *flags)["api_key"]
            for name, flags in (("ann", ("--seat", "sales")), ("eve", ("--seat", "sales")), ("ada", ("--admin",)))}
    contacts = data.parent / "contacts.csv"
    contacts.write_text("email,first_name\n" + "".join(f"{r},Reader {n}\n" for n, r in enumerate(READERS, 1)))
    cli("contacts", "import", str(contacts), "--list", "news", "--data", str(data))
    template = data.parent / "spring.html"
    template.write_text(TEMPLATE)
    invoice = data.parent / "invoice.eml"
    invoice.write_bytes(invoice_message())
    with running_server(data) as server:
        subprocess.run(
            [sys.executable, "-m", "mailbeacon", "campaign", "send", "--name", "spring", "--list", "news",
             "--template", str(template), "--subject", CAMPAIGN_SUBJECT, "--from", "Shop News <news@shop.example>",
             "--as", "ann@example.com", "--base-url", server.url, "--data", str(data), "--wait"],
            capture_output=True, text=True, timeout=120, check=True,
        )
        cli("send", str(invoice), "--as", "ann@example.com", "--base-url", server.url, "--data", str(data))
        send(server.url, keys["eve"], to="carol@example.net", subject="Eve's own news",
             html='<p>News <a href="https://example.net/news">here</a></p>')
        copies = wait_for(lambda: c if len(c := read_captured(data / "captured")) == 4 else None, "four copies")
        yield World(
            server, copies,
            invoice=next(c for c in copies if c.subject == INVOICE),
            eve_copy=next(c for c in copies if c.from_address == "eve@example.com"),
        )


@pytest.fixture
def ann(world: World) -> Iterator[Session]:
    with logged_in(world.server.url, "ann@example.com") as session:
        yield session


@pytest.fixture
def eve(world: World) -> Iterator[Session]:
    with logged_in(world.server.url, "eve@example.com") as session:
        yield session


def subjects(session: Session, path: str = "/captured") -> list[str]:
    return sorted(node.text() for node in session.page(path).css("#captured tbody .subject"))


def copy_urls(copy: Captured) -> list[str]:
    base = f"/captured/{copy.path.name}"
    return [base, f"{base}/html", f"{base}/message.eml", f"{base}/attachments/1", f"{base}?view=source"]


# --- item 4: who sent it -------------------------------------------------------------------------------


def test_a_sender_who_is_no_admin_sees_her_campaigns_copies_whatever_their_from_says(
        world: World, ann: Session, eve: Session) -> None:
    campaign = world.campaign_copies()
    assert {c.from_address for c in campaign} == {"news@shop.example"}  # neither From nor sender is Ann's
    assert subjects(ann) == sorted([CAMPAIGN_SUBJECT, CAMPAIGN_SUBJECT, INVOICE])
    assert subjects(eve) == ["Eve's own news"]
    for copy in campaign:
        assert ann.get(f"/captured/{copy.path.name}").status_code == 200
        for url in copy_urls(copy):
            assert eve.get(url).status_code == 404, url  # another's copy is as if it did not exist
    for url in copy_urls(world.eve_copy)[:3]:
        assert ann.get(url).status_code == 404, url


def test_a_rebuilt_index_still_knows_whose_copy_each_is(world: World, ann: Session) -> None:
    index = world.server.data_dir / "captured" / "index.jsonl"
    entries = [json.loads(line) for line in index.read_text().splitlines()]
    assert all(len(e["delivery"]) == 24 for e in entries)  # 12-byte delivery keys, in hex
    index.unlink()  # rebuilt from the mail at the next read: the copies name their deliveries
    assert subjects(ann) == sorted([CAMPAIGN_SUBJECT, CAMPAIGN_SUBJECT, INVOICE])
    assert index.exists()


# --- item 3: targets, never the honeypot ----------------------------------------------------------------


def test_the_honeypot_is_in_the_copy_but_in_no_list_and_each_link_shows_its_target(world: World, ann: Session) -> None:
    copy = world.campaign_copies()[0]
    assert len(copy.click_urls) == 2  # the link and the invisible honeypot
    rows = {r.css_first(".subject").attributes["href"]: r for r in ann.page("/captured").css("#captured tbody tr")}
    assert rows[f"/captured/{copy.path.name}"].css_first(".links-count").text() == "1"
    page = ann.page(f"/captured/{copy.path.name}")
    assert "1 tracked link" in page.css_first("dl.headers").text()
    links = ann.page(f"/captured/{copy.path.name}?view=links")
    assert [n.text() for n in links.css("#captured-links .target")] == ["https://shop.example/spring"]
    assert [n.text() for n in links.css("#captured-links .tracked")] == [copy.click_urls[0]]
    assert "honeypot" not in links.body.text().lower()


def test_mailbeacon_captured_prints_each_links_target_and_no_honeypot(world: World) -> None:
    data = str(world.server.data_dir)
    listing = cli("captured", "--data", data)
    assert "honeypot" not in listing
    assert listing.count("link   https://shop.example/spring") == 2  # one per campaign copy
    assert "link   https://shop.example/invoices/42" in listing
    for copy in world.campaign_copies():
        assert f"via {copy.click_urls[0]}" in listing and copy.click_urls[1] not in listing
    lines = [json.loads(line) for line in cli("captured", "--json", "--data", data).splitlines()]
    spring = [line for line in lines if line["subject"] == CAMPAIGN_SUBJECT]
    assert [line["links"][0]["target"] for line in spring] == ["https://shop.example/spring"] * 2
    assert all(len(line["click_urls"]) == 1 for line in spring)


# --- item 10: the views of a copy, downloads, search -------------------------------------------------


def test_a_copys_text_headers_and_raw_source_are_shown_as_text(world: World, ann: Session) -> None:
    base = f"/captured/{world.invoice.path.name}"
    text = ann.get(f"{base}?view=text")
    assert HTMLParser(text.text).css_first("pre#captured-text").text() == HOSTILE_TEXT
    assert "<script>alert('text')" not in text.text  # escaped, never markup
    headers = ann.page(f"{base}?view=headers")
    named = {r.css_first("th").text(): r.css_first("td").text() for r in headers.css("#captured-headers tbody tr")}
    assert named["Subject"] == INVOICE and named["From"] == "Ann <ann@example.com>"
    assert named["Delivered-To"] == "bob@example.org"
    source = ann.get(f"{base}?view=source")
    assert HTMLParser(source.text).css_first("pre#captured-source").text() == world.invoice.path.read_text().replace("\r\n", "\n")
    assert "<script>" not in source.text and "&lt;script&gt;" in source.text
    assert source.headers["content-security-policy"].startswith("default-src 'self'; script-src 'self'")


def test_attachments_are_listed_and_only_ever_downloaded(world: World, ann: Session) -> None:
    base = f"/captured/{world.invoice.path.name}"
    page = ann.page(base)
    listed = [(a.css_first(".file-name").text(), a.css_first(".file-type").text(), a.css_first(".file-size").text())
              for a in page.css("#attachments li.attachment")]
    assert listed == [("invoice 42 (€).pdf", "application/pdf", "2.1 kB"),
                      ("../../run-me.html", "text/html", f"{len(HOSTILE_HTML)} Bytes"),
                      ("logo.svg", "image/svg+xml", f"{len(SVG)} Bytes")]
    for number, (content, name) in enumerate([(PDF, "invoice 42 (_).pdf"), (HOSTILE_HTML, "_.._run-me.html"),
                                              (SVG, "logo.svg")], 1):
        got = ann.get(f"{base}/attachments/{number}")
        assert got.status_code == 200 and got.content == content
        assert got.headers["content-type"] == "application/octet-stream"  # never text/html or image/svg+xml
        assert got.headers["content-disposition"].startswith(f'attachment; filename="{name}"')
        assert got.headers["x-content-type-options"] == "nosniff"
        assert got.headers["content-security-policy"].startswith("sandbox")
    assert "filename*=UTF-8''invoice%2042%20%28%E2%82%AC%29.pdf" in ann.get(f"{base}/attachments/1").headers[
        "content-disposition"]
    assert ann.get(f"{base}/attachments/4").status_code == 404
    assert ann.get(f"{base}/attachments/0").status_code == 404


def test_the_eml_downloads_byte_for_byte(world: World, ann: Session) -> None:
    got = ann.get(f"/captured/{world.invoice.path.name}/message.eml")
    assert got.status_code == 200 and got.content == world.invoice.path.read_bytes()
    assert got.headers["content-type"] == "message/rfc822"
    assert got.headers["content-disposition"].startswith(f'attachment; filename="{INVOICE}.eml"')
    assert got.headers["content-security-policy"].startswith("sandbox")


def test_captured_mail_is_searched_by_recipient_and_subject(world: World, ann: Session) -> None:
    def found(q: str) -> list[str]:
        return [r.css_first("td.address").text() for r in ann.page(f"/captured?q={q}").css("#captured tbody tr")]

    assert found("reader1") == ["reader1@example.org"]
    assert sorted(found("to:example.org")) == ["bob@example.org", *READERS]
    assert found("subject:invoice") == ["bob@example.org"]
    assert found("Spring+reader2") == ["reader2@example.org"]  # every word must match
    assert found("to:invoice") == []
    assert found("carol") == []  # Eve's copy is not searched for Ann
    assert "No captured mail" in ann.page("/captured?q=carol").css_first("#captured-empty").text()
