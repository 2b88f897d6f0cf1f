"""A campaign to 100,000 contacts, queued by `mailbeacon campaign send` and delivered to a local sink.

Run: .venv/bin/python benchmarks/bench_campaign.py [--contacts 10000 100000] [--size 21000] [--links 20]

For each list size: a fresh SQLite data directory, an admin user, a generated
CSV (1 % bad addresses, 1 % duplicates) imported with `mailbeacon contacts
import`, then `mailbeacon serve --upstream smtp://sink` and `mailbeacon campaign
send` (a ~21 KB newsletter with 20 links, personalised greeting and subject,
text alternative; with --unique also the address, so no two copies share their
HTML) started together. The sink is `python -m aiosmtpd` with
bench_relay's counting handler. Printed: the queueing rate (members queued a
second, until the send command exits), the end-to-end rate (until the sink has
every copy), the total time, and the peak RSS of the sending command and of
the server: the same for both list sizes shows memory does not grow with the
list. The baseline, measured in the same run: smtplib sending one such
pre-built copy straight to a fresh sink over 4 connections (the sink's own
intake rate, the most any sender could reach through it).
"""

from __future__ import annotations

import argparse
import json
import os
import smtplib
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench_import import make_csv  # noqa: E402
from bench_relay import aiosmtpd_process, read_counts  # noqa: E402
from newsletters import newsletter_html  # noqa: E402

from tests.support.servers import start_server  # noqa: E402
from tests.support.smtp import add_user, free_port  # noqa: E402

MB = [sys.executable, "-m", "mailbeacon"]
TARGET_SECONDS = 300.0
TARGET_RSS_MB = 300.0


@dataclass(frozen=True)
class Run:
    contacts: int
    queued: int
    import_seconds: float
    queue_seconds: float
    total_seconds: float
    sender_rss_mb: float
    server_rss_mb: float
    cpu_ms: dict[str, float]
    """CPU milliseconds per copy of the sender, the server and the sink."""


def template(size: int, links: int, unique: bool = False) -> tuple[str, str]:
    html = newsletter_html(size, links).decode()
    body = '<body style="margin:0;padding:0;background:#f4f4f4">'
    greeting = '<p style="margin:16px 24px">Hello {{ contact["First Name"] | default("there") }},</p>'
    if unique:  # "sent to ADDRESS": no two copies share their HTML, so none shares a prepared scan
        greeting += '<p style="font-size:11px">This email was sent to {{ contact.email }}</p>'
    html = html.replace(body, body + greeting, 1)
    text = ('Hello {{ contact["First Name"] | default("there") }},\n\nthis month: news, offers and more.\n'
            "Read it all at https://shop.example.com/news\n")
    return html, text


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def sink_pid(port: int) -> int:
    found = subprocess.run(["pgrep", "-f", f"127.0.0.1:{port}"], capture_output=True, text=True).stdout.split()
    return int(found[0])


def campaign_run(work: Path, contacts: int, html: str, text: str, timeout: float) -> Run:
    data = work / f"data-{contacts}"
    data.mkdir(parents=True)
    add_user(data, "admin@example.com", "--admin")
    csv = work / f"contacts-{contacts}.csv"
    csv.write_bytes(make_csv(contacts))
    started = time.monotonic()
    subprocess.run([*MB, "contacts", "import", str(csv), "--list", "news", "--data", str(data)], check=True,
                   capture_output=True)
    import_seconds = time.monotonic() - started
    (work / "t.html").write_text(html)
    (work / "t.txt").write_text(text)
    sink_port = free_port()
    count_file = work / f"sink-{contacts}.count"
    with aiosmtpd_process(sink_port, "CountingSink", str(count_file)):
        server = start_server(data, "--smtp", "off", "--upstream", f"smtp://127.0.0.1:{sink_port}")
        try:
            server_cpu, sink_cpu = cpu_seconds(server.process.pid), cpu_seconds(sink_pid(sink_port))
            started = time.monotonic()
            sender = subprocess.Popen(
                [*MB, "campaign", "send", "--name", "bench", "--list", "news", "--template", str(work / "t.html"),
                 "--text", str(work / "t.txt"), "--subject", 'News for {{ contact["First Name"] | default("you") }}',
                 "--from", "Example Shop <news@shop.example.com>", "--data", str(data), "--base-url", server.url],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            )
            _, status, usage = os.wait4(sender.pid, 0)
            sender.returncode = os.waitstatus_to_exitcode(status)
            queue_seconds = time.monotonic() - started
            if sender.returncode != 0:
                raise RuntimeError(f"campaign send exited with {sender.returncode}")
            state = json.loads(subprocess.run([*MB, "campaign", "status", "bench", "--json", "--data", str(data)],
                                              check=True, capture_output=True, text=True).stdout)
            queued = int(state["queued"])
            deadline = started + timeout
            while True:
                counts = read_counts(count_file)
                if counts is not None and counts.messages >= queued:
                    break
                if time.monotonic() > deadline:
                    raise RuntimeError(f"the sink has {counts.messages if counts else 0} of {queued} after {timeout}s")
                time.sleep(0.2)
            total_seconds = counts.last - started
            server_rss = peak_rss_mb(server.process.pid)
            cpu = {
                "sender": (usage.ru_utime + usage.ru_stime) * 1000 / queued,
                "server": (cpu_seconds(server.process.pid) - server_cpu) * 1000 / queued,
                "sink": (cpu_seconds(sink_pid(sink_port)) - sink_cpu) * 1000 / queued,
            }
        finally:
            server.stop()
    return Run(contacts, queued, import_seconds, queue_seconds, total_seconds, usage.ru_maxrss / 1024, server_rss,
               cpu)


def one_copy(html: str, text: str) -> bytes:
    """A copy as the campaign makes it (rendered, tracked), for the baseline."""
    from mailbeacon.campaigns.compose import compose, header_text, html_part
    from mailbeacon.campaigns.copies import PLAN
    from mailbeacon.campaigns.templates import CampaignTemplate, Recipient
    from mailbeacon.instrument import TokenTracker, instrument_message
    from mailbeacon.tokens import Keyring

    keyring = Keyring({0: bytes(32)}, 0)
    rendered = CampaignTemplate.from_strings(html, text, subject="News").render(
        Recipient("user1@example.com", {"First Name": "Ann"}), "http://127.0.0.1:8080/u/x")
    part = instrument_message(html_part(rendered.html), PLAN, TokenTracker("http://127.0.0.1:8080", keyring, bytes(12)))
    headers = [("From", "news@shop.example.com"), ("To", "user1@example.com"), ("Subject", header_text("News"))]
    return compose(headers=headers, html=part.message, text=rendered.text, boundary="=_b")


def sink_intake(work: Path, message: bytes, messages: int, connections: int = 4) -> float:
    """Messages a second the sink takes from smtplib clients sending `message` as fast as they can."""
    port = free_port()
    count_file = work / "baseline.count"
    with aiosmtpd_process(port, "CountingSink", str(count_file)):
        clients = [smtplib.SMTP("127.0.0.1", port, timeout=30) for _ in range(connections)]
        for client in clients:
            client.sendmail("news@shop.example.com", ["user1@example.com"], message)  # warm up
        started = time.monotonic()

        def send(client: smtplib.SMTP) -> None:
            for _ in range(messages // connections):
                client.sendmail("news@shop.example.com", ["user1@example.com"], message)

        threads = [threading.Thread(target=send, args=(client,)) for client in clients]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.monotonic() - started
        for client in clients:
            client.quit()
    return (messages // connections) * connections / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contacts", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--size", type=int, default=21_000, help="bytes of the newsletter's HTML")
    parser.add_argument("--links", type=int, default=20)
    parser.add_argument("--baseline-messages", type=int, default=8_000)
    parser.add_argument("--timeout", type=float, default=900.0, help="seconds a run may take before it fails")
    parser.add_argument("--unique", action="store_true",
                        help="every copy's HTML differs (the address in it): the worst case for the sender")
    args = parser.parse_args()
    html, text = template(args.size, args.links, args.unique)
    with tempfile.TemporaryDirectory(prefix="bench-campaign-") as tmp:
        work = Path(tmp)
        message = one_copy(html, text)
        baseline = sink_intake(work, message, args.baseline_messages)
        print(f"copy: {len(message):,} bytes; sink intake (smtplib, 4 connections): {baseline:,.0f} messages/s",
              flush=True)
        runs = []
        for contacts in args.contacts:
            run = campaign_run(work, contacts, html, text, args.timeout)
            runs.append(run)
            rate = run.queued / run.total_seconds
            print(
                f"{run.contacts:>7,} contacts: import {run.import_seconds:.1f} s; {run.queued:,} queued in "
                f"{run.queue_seconds:.1f} s ({run.queued / run.queue_seconds:,.0f}/s); all delivered after "
                f"{run.total_seconds:.1f} s ({rate:,.0f} messages/s end to end, {rate / baseline:.2f} of the sink's "
                f"intake); peak RSS: sender {run.sender_rss_mb:.0f} MB, server {run.server_rss_mb:.0f} MB; CPU per copy: "
                + ", ".join(f"{name} {ms:.2f} ms" for name, ms in run.cpu_ms.items()),
                flush=True,
            )
        largest = max(runs, key=lambda r: r.contacts)
        ok = largest.total_seconds < TARGET_SECONDS and max(largest.sender_rss_mb, largest.server_rss_mb) < TARGET_RSS_MB
        print(f"target: {largest.contacts:,} contacts in under {TARGET_SECONDS:.0f} s with peak memory under "
              f"{TARGET_RSS_MB:.0f} MB: {'met' if ok else 'NOT met'}")


if __name__ == "__main__":
    main()
