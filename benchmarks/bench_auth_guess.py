"""Pixel latency while password guessers hammer the relay's AUTH, and AUTH time for known and unknown users.

Run: .venv/bin/python benchmarks/bench_auth_guess.py [--guessers 0,1,4] [--seconds 5] [--sources 1]

Issue #12, item 7: scrypt ran on the event loop that answers pixels (one guesser took the
pixel p50 from 7 ms to 356 ms, four to 1.27 s), and an unknown user answered in 2-3 ms
against 80-97 ms for a known one. A real `mailbeacon serve --smtp-plain-auth` (AUTH without
STARTTLS, loopback only, so the guessers cost the server scrypt and not TLS) gets, for each
count of guessers, `--seconds` of sequential pixel requests over one keep-alive connection
while that many threads send AUTH PLAIN with a wrong password for a real user, each
reconnecting whenever the relay closes its connection; `--sources N` spreads the guessers
over N loopback addresses (127.0.1.2 ..., each new connection from the next), as a botnet would. Printed: pixel p50/p95/max,
and the guessers' replies by code (535 checked and refused, 454 throttled, 421 closed).
First, on the fresh server, the median time of a refused AUTH for a known and for an unknown
user, from fresh addresses, before any guess (so the throttle does not answer for the check).
"""

from __future__ import annotations

import argparse
import collections
import secrets
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from mailbeacon.tokens import Keyring  # noqa: E402
from tests.support.servers import Server, start_server  # noqa: E402
from tests.support.smtp import RawSmtp, add_user  # noqa: E402


def auth_once(
    address: tuple[str, int], source: str, login: str, password: str, stop: threading.Event | None = None,
    tries: int = 100, times: list[float] | None = None,
) -> list[int]:
    """One connection: EHLO, then AUTH PLAIN until the relay closes it (at most `tries`); the reply codes.

    The time each AUTH took (ms) is appended to `times`."""
    codes: list[int] = []
    with RawSmtp(address, source) as client:
        client.command("EHLO guesser")
        for _ in range(tries):
            if stop is not None and stop.is_set():
                break
            started = time.perf_counter()
            codes.append(client.plain_auth(login, password))
            if times is not None:
                times.append((time.perf_counter() - started) * 1000)
            if codes[-1] in (0, 235, 421):
                break
    return codes


def measure(server: Server, path: str, login: str, guessers: int, sources: int, seconds: float) -> None:
    assert server.smtp is not None
    stop = threading.Event()
    replies: collections.Counter[int] = collections.Counter()
    lock = threading.Lock()

    def guess(number: int) -> None:
        connection = 0
        while not stop.is_set():
            address = (number + connection * guessers) % sources  # each new connection from the next address
            source = f"127.0.{1 + address // 250}.{2 + address % 250}" if sources > 1 else "127.0.0.1"
            connection += 1
            try:
                codes = auth_once(server.smtp, source, login, "not the password " + secrets.token_hex(4), stop)  # type: ignore[arg-type]
            except OSError:
                codes = [0]
            with lock:
                replies.update(codes)

    threads = [threading.Thread(target=guess, args=(n,), daemon=True) for n in range(guessers)]
    for thread in threads:
        thread.start()
    time.sleep(0.3 if guessers else 0)
    latencies = []
    with httpx.Client(base_url=server.url, timeout=30) as client:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            started = time.perf_counter()
            assert client.get(path).status_code == 200
            latencies.append((time.perf_counter() - started) * 1000)
            time.sleep(0.02)
    stop.set()
    for thread in threads:
        thread.join(timeout=60)
    latencies.sort()
    p95 = statistics.quantiles(latencies, n=20)[-1] if len(latencies) > 1 else latencies[0]
    codes = ", ".join(f"{code or 'error'}: {count}" for code, count in sorted(replies.items()))
    print(f"{guessers:>2} guessers from {sources:>3} address(es): pixel p50 {statistics.median(latencies):7.1f} ms  "
          f"p95 {p95:7.1f} ms  max {latencies[-1]:7.1f} ms  ({len(latencies)} pixels)  AUTH replies {codes or '-'}")


def auth_time(server: Server, login: str, tries: int, first_source: int) -> float:
    assert server.smtp is not None
    times: list[float] = []
    for n in range(tries):
        auth_once(server.smtp, f"127.0.2.{first_source + n}", login, "wrong", tries=1, times=times)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--guessers", default="0,1,4", help="Comma-separated counts of guessing threads.")
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--sources", type=int, default=1, help="Loopback source addresses the guessers spread over.")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data"
        user = add_user(data, "owner@example.com")
        server = start_server(data, "--smtp-plain-auth")
        try:
            known = auth_time(server, user.email, 5, 10)  # before any guessing: no throttle answers for the check
            unknown = auth_time(server, "nobody@example.com", 5, 20)
            print(f"a refused AUTH PLAIN, median of 5 from fresh addresses: known user {known:.1f} ms, "
                  f"unknown user {unknown:.1f} ms")
            path = f"/o/{Keyring.load_or_create(data).sign_open(secrets.token_bytes(12))}.gif"
            for count in (int(c) for c in args.guessers.split(",")):
                measure(server, path, user.email, count, args.sources, args.seconds)
        finally:
            server.stop()


if __name__ == "__main__":
    main()
