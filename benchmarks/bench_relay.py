"""Messages/s through the SMTP relay and its outbound queue, next to aiosmtpd's pass-through Proxy.

Run: .venv/bin/python benchmarks/bench_relay.py [--messages 2000] [--connections 8] [--recipients 1] [--rounds 2]

Checks "the relay reaches at least 70 % of the pass-through proxy's messages/s".
Both sides get the same load, measured in the same run: C client connections
(smtplib in threads of this process), each opened, switched to STARTTLS
(self-signed certificate, not verified) and warmed up with one message, then
together sending N messages of about 30 KB (multipart/alternative, text and
HTML, 20 links), each to `--recipients` addresses.

- relay: `mailbeacon serve --upstream smtp://sink` on a fresh SQLite data
  directory, with AUTH as a sales-seat user (clicks and opens tracked). Its 250
  means "durably queued"; its outbound worker then delivers the copies over
  kept connections.
- proxy: aiosmtpd's reference `aiosmtpd.handlers.Proxy` under `python -m
  aiosmtpd`, with STARTTLS on the same kind of certificate but without AUTH
  (its CLI has no authenticator; AUTH happens once per connection, before the
  clock starts, so it would not count anyway). It delivers each message
  synchronously over a new upstream connection, then answers 250.

Each side delivers to a sink of its own: `python -m aiosmtpd` with a handler
that counts messages, recipients and bytes and writes them, with the
CLOCK_MONOTONIC time of the last one, to a file the benchmark polls. The time
measured is from the first send until the sink has every recipient (end to
end, the relay's queue included); the relay's accept rate (until the last 250)
is shown apart. Unless `--no-pin`, the server under test runs on core 0, the
clients and the sink on core 1. Each side runs `--rounds` times, alternately,
and the median ratio (relay / proxy) is printed, as the VM is noisy.
"""

from __future__ import annotations

import argparse
import os
import random
import smtplib
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from argparse import ArgumentParser
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from email.message import EmailMessage
from email.policy import SMTP as SMTP_POLICY
from pathlib import Path

from aiosmtpd.handlers import Proxy
from aiosmtpd.smtp import SMTP, Envelope, Session

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from mailbeacon.relay import self_signed  # noqa: E402
from tests.support.servers import Server, start_server  # noqa: E402
from tests.support.smtp import User, add_user, free_port  # noqa: E402

SENDER = "bench@example.com"
TARGET = 0.70
"""The requirement: relay messages/s at least this share of the proxy's."""
_WORDS = (
    "quarterly proposal pricing renewal onboarding webinar team roadmap release integration dashboard "
    "report export security reliable faster customers partners support contract discount trial"
).split()


# -- the handlers run by `python -m aiosmtpd -c bench_relay.NAME` ------------------------------


class CountingSink:
    """The upstream of both sides: counts what it accepts, keeps nothing.

    One pwrite per message of `messages recipients bytes last-monotonic-time`,
    fixed width, to a file the benchmark reads; cheap next to receiving 30 KB.
    """

    def __init__(self, path: str) -> None:
        self._fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        self._messages = self._recipients = self._bytes = 0

    @classmethod
    def from_cli(cls, parser: ArgumentParser, *args: str) -> CountingSink:
        if len(args) != 1:
            parser.error("CountingSink takes one argument: the count file")
        return cls(args[0])

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        self._messages += 1
        self._recipients += len(envelope.rcpt_tos)
        self._bytes += len(envelope.original_content or b"")
        line = f"{self._messages} {self._recipients} {self._bytes} {time.monotonic():.6f}"
        os.pwrite(self._fd, line.ljust(100).encode() + b"\n", 0)
        return "250 2.0.0 OK"


class CliProxy(Proxy):
    """aiosmtpd's reference Proxy, unchanged, given `from_cli` so its CLI can pass HOST PORT."""

    @classmethod
    def from_cli(cls, parser: ArgumentParser, *args: str) -> CliProxy:
        if len(args) != 2:
            parser.error("CliProxy takes two arguments: upstream HOST PORT")
        return cls(args[0], int(args[1]))


# -- processes -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Counts:
    messages: int
    recipients: int
    bytes: int
    last: float
    """time.monotonic() (CLOCK_MONOTONIC, the same in every process) of the last message."""


def read_counts(path: Path) -> Counts | None:
    try:
        fields = path.read_text().split()
        return Counts(int(fields[0]), int(fields[1]), int(fields[2]), float(fields[3]))
    except (OSError, ValueError, IndexError):  # not written yet, or read while being written
        return None


def wait_listening(port: int, process: subprocess.Popen[bytes], timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{process.args!r} exited with {process.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port} after {timeout}s")


@contextmanager
def aiosmtpd_process(port: int, handler: str, *args: str, tls: tuple[Path, Path] | None = None,
                     core: int | None = None) -> Iterator[None]:
    """`python -m aiosmtpd` on 127.0.0.1:PORT with one of the handlers above; stopped on exit."""
    cmd = [sys.executable, "-m", "aiosmtpd", "-n", "-c", f"bench_relay.{handler}", "-l", f"127.0.0.1:{port}"]
    if tls is not None:
        cmd += ["--tlscert", str(tls[0]), "--tlskey", str(tls[1])]  # and STARTTLS is required
    cmd += list(args)
    if core is not None:
        cmd = ["taskset", "-c", str(core), *cmd]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(Path(__file__).parent), os.environ.get("PYTHONPATH", "")])}
    process = subprocess.Popen(cmd, env=env, start_new_session=True)
    try:
        wait_listening(port, process)
        yield
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


# -- the message and the clients -----------------------------------------------------------


def sales_message(links: int = 20, size: int = 30_000, seed: int = 7) -> bytes:
    """A one-to-one sales email with an HTML part of about `size` bytes and `links` links, CRLF-ended."""
    rng = random.Random(seed)
    paragraphs = []
    per_paragraph = size // links
    for n in range(links):
        query = f"utm_source=email&amp;utm_campaign=q4&amp;id={rng.randrange(10**6)}"
        url = f"https://www.example.com/{rng.choice(_WORDS)}/{n}?{query}"
        words = " ".join(rng.choice(_WORDS) for _ in range(per_paragraph // 9))
        paragraphs.append(
            f'<tr><td style="padding:12px 24px;font-family:Arial,sans-serif;font-size:15px;color:#333333">\n'
            f'<p style="margin:0 0 10px 0">{words}</p>\n'
            f'<a href="{url}" style="color:#1a73e8">Read about the {rng.choice(_WORDS)}</a>\n</td></tr>\n'
        )
    html = (
        '<!DOCTYPE html>\n<html><head><meta charset="utf-8"><title>Your proposal</title></head>\n'
        '<body style="margin:0;background:#f4f4f4">\n<table role="presentation" width="100%" cellpadding="0">\n'
        + "".join(paragraphs)
        + '</table>\n<p style="font-size:12px">Alex Doe, Account Executive &middot; '
        '<a href="https://www.example.com/">example.com</a></p>\n</body></html>\n'
    )
    message = EmailMessage(policy=SMTP_POLICY)
    message["From"] = f"Alex Doe <{SENDER}>"
    message["To"] = "Jordan Reader <jordan@example.org>"
    message["Subject"] = "Your proposal and the next steps"
    message["Message-ID"] = "<proposal-42@example.com>"
    message.set_content("Hello Jordan,\n\nthe proposal is at https://www.example.com/proposal/42\n\nAlex\n")
    message.add_alternative(html, subtype="html")
    return message.as_bytes()


@dataclass(frozen=True)
class Side:
    name: str
    address: tuple[str, int]
    user: User | None
    """AUTH as this user after STARTTLS; None: no AUTH."""


def connect(side: Side) -> smtplib.SMTP:
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    client = smtplib.SMTP(*side.address, timeout=60)
    client.starttls(context=context)
    if side.user is not None:
        client.login(side.user.email, side.user.smtp_password)
    return client


@dataclass(frozen=True)
class Result:
    end_to_end: float
    """Messages/s from the first send until the sink has every recipient."""
    accepted: float
    """Messages/s from the first send until the last 250."""
    delivered: Counts
    expected_recipients: int


def run_load(side: Side, count_file: Path, message: bytes, messages: int, connections: int, recipients: int,
             timeout: float) -> Result:
    """Warm every connection with one message, then send `messages` over them and time them to the sink."""
    jobs = iter(range(messages))
    jobs_lock = threading.Lock()
    ready = threading.Barrier(connections + 1, timeout=timeout)
    go = threading.Barrier(connections + 1, timeout=timeout)
    errors: list[BaseException] = []
    finished: list[float] = []

    def send(client: smtplib.SMTP, number: int) -> None:
        rcpts = [f"reader{number}-{r}@example.org" for r in range(recipients)]
        refused = client.sendmail(SENDER, rcpts, message)
        if refused:
            raise RuntimeError(f"{side.name} refused {refused}")

    def worker(index: int) -> None:
        try:
            client = connect(side)
            try:
                send(client, -1 - index)  # warm-up, not timed
                ready.wait()
                go.wait()
                while True:
                    with jobs_lock:
                        number = next(jobs, None)
                    if number is None:
                        break
                    send(client, number)
                finished.append(time.monotonic())
            finally:
                client.close()  # QUIT would wait for nothing useful
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            errors.append(exc)
            ready.abort()
            go.abort()

    def failure() -> str:
        return f"{side.name}: a client failed: {errors[0]!r}" if errors else f"{side.name}: timed out"

    threads = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(connections)]
    for thread in threads:
        thread.start()
    try:
        ready.wait()
        warm = wait_for_sink(count_file, connections * recipients, time.monotonic() + timeout)
        start = time.monotonic()
        go.wait()
    except BaseException as exc:
        go.abort()  # release the clients still waiting to start
        for thread in threads:
            thread.join(timeout=5)
        if isinstance(exc, threading.BrokenBarrierError):
            raise RuntimeError(failure()) from exc
        raise
    for thread in threads:
        thread.join(timeout=max(0.0, start + timeout - time.monotonic()))
    if errors or len(finished) != connections:
        raise RuntimeError(failure())
    expected = (connections + messages) * recipients
    done = wait_for_sink(count_file, expected, start + timeout)
    delivered = Counts(done.messages - warm.messages, done.recipients - warm.recipients,
                       done.bytes - warm.bytes, done.last)
    return Result(messages / (done.last - start), messages / (max(finished) - start), delivered,
                  messages * recipients)


def wait_for_sink(count_file: Path, recipients: int, deadline: float, settle: float = 0.5) -> Counts:
    """The sink's counts once it has `recipients` and nothing more came for `settle` s (to see duplicates)."""
    while time.monotonic() < deadline:
        counts = read_counts(count_file)
        if counts is not None and counts.recipients >= recipients:
            time.sleep(settle)
            again = read_counts(count_file)
            if again == counts:
                return counts
            continue
        time.sleep(0.01)
    raise RuntimeError(f"the sink has {read_counts(count_file)} after the deadline, expected {recipients} recipients")


# -- the two sides -------------------------------------------------------------------------


@dataclass(frozen=True)
class Load:
    message: bytes
    messages: int
    connections: int
    recipients: int
    timeout: float
    pin: bool


def proxy_run(work: Path, tls: tuple[Path, Path], load: Load) -> Result:
    sink_port, proxy_port = free_port(), free_port()
    count_file = work / "proxy-sink.count"
    with aiosmtpd_process(sink_port, "CountingSink", str(count_file)), aiosmtpd_process(
        proxy_port, "CliProxy", "127.0.0.1", str(sink_port), tls=tls, core=0 if load.pin else None
    ):
        side = Side("proxy", ("127.0.0.1", proxy_port), None)
        return run_load(side, count_file, load.message, load.messages, load.connections, load.recipients, load.timeout)


def relay_run(work: Path, load: Load) -> Result:
    data = work / "relay-data"
    user = add_user(data, SENDER, "--seat", "sales")  # also creates and migrates the store
    sink_port = free_port()
    count_file = work / "relay-sink.count"
    with aiosmtpd_process(sink_port, "CountingSink", str(count_file)):
        server: Server = start_server(data, "--upstream", f"smtp://127.0.0.1:{sink_port}")
        try:
            if load.pin:
                subprocess.run(["taskset", "-a", "-p", "-c", "0", str(server.process.pid)], check=True,
                               capture_output=True)
            assert server.smtp is not None, server.output()
            side = Side("relay", server.smtp, user)
            return run_load(side, count_file, load.message, load.messages, load.connections, load.recipients,
                            load.timeout)
        finally:
            server.stop()


def report(name: str, what: str, result: Result) -> None:
    got = result.delivered
    verdict = "no loss" if got.recipients == result.expected_recipients else (
        f"LOST {result.expected_recipients - got.recipients}" if got.recipients < result.expected_recipients
        else f"{got.recipients - result.expected_recipients} DUPLICATES"
    )
    print(f"{name:<6} {result.end_to_end:8,.1f} msg/s end to end, 250s at {result.accepted:8,.1f} msg/s; "
          f"sink got {got.recipients:,} of {result.expected_recipients:,} recipients in {got.messages:,} messages "
          f"({got.bytes / max(got.messages, 1) / 1024:,.1f} KB each): {verdict}  [{what}]", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=2000, help="messages timed per run (N)")
    parser.add_argument("--connections", type=int, default=8, help="concurrent client connections (C)")
    parser.add_argument("--recipients", type=int, default=1, help="envelope recipients of each message")
    parser.add_argument("--rounds", type=int, default=2,
                        help="proxy and relay are measured alternately this many times (this VM is noisy)")
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds a run may take before it fails")
    parser.add_argument("--no-pin", dest="pin", action="store_false",
                        help="do not pin the server under test to core 0 and the clients and sink to core 1")
    args = parser.parse_args()
    pin = args.pin and (os.cpu_count() or 1) >= 2
    if pin:
        os.sched_setaffinity(0, {1})  # this thread, so the client threads and the sinks started from here
    message = sales_message()
    load = Load(message, args.messages, args.connections, args.recipients, args.timeout, pin)
    print(f"{args.messages:,} messages of {len(message) / 1024:.1f} KB, {args.recipients} recipient(s) each, over "
          f"{args.connections} connections; "
          + ("server under test on core 0, clients and sink on core 1" if pin else "no CPU pinning"), flush=True)
    ratios: list[float] = []
    with tempfile.TemporaryDirectory(prefix="mb-bench-relay-") as tmp:
        work = Path(tmp)
        tls = self_signed(work / "proxy-tls")
        for round_ in range(1, args.rounds + 1):
            print(f"-- round {round_} of {args.rounds}", flush=True)
            folder = work / f"round-{round_}"
            folder.mkdir()
            proxy = proxy_run(folder, tls, load)
            report("proxy", "aiosmtpd.handlers.Proxy: STARTTLS, no AUTH, a new upstream connection per message",
                   proxy)
            relay = relay_run(folder, load)
            report("relay", "mailbeacon: STARTTLS + AUTH, tracked, queued in SQLite, 4 senders on kept connections",
                   relay)
            lost = relay.delivered.recipients != relay.expected_recipients
            ratios.append(0.0 if lost else relay.end_to_end / proxy.end_to_end)
            print(f"ratio  {relay.end_to_end / proxy.end_to_end:5.2f} relay / proxy end to end "
                  f"(accepting: {relay.accepted / proxy.accepted:5.2f})", flush=True)
    median = statistics.median(ratios)
    verdict = "met" if median >= TARGET else "NOT met"
    print(f"-- median ratio relay / proxy over the rounds (0 where a copy was lost): {median:.2f} "
          f"(rounds: {', '.join(f'{r:.2f}' for r in ratios)}); at least {TARGET:.2f} required: {verdict}")


if __name__ == "__main__":
    main()
