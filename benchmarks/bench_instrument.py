"""How fast instrumentation runs, next to the fastest parse-and-serialise of the same HTML.

Run: .venv/bin/python benchmarks/bench_instrument.py [--seconds S] [--corpus DIR]

Measures, on one core, with real signed tokens, MIME decoding and re-encoding
included, over generated 50 KB / 30-link and 100 KB / 50-link newsletters and
over the shared corpus:

- single: `instrument_message` on one message for one recipient (the relay's
  one-recipient case): parse, decode, scan, sign, splice, encode;
- per copy: `Prepared.render` for one more recipient of a message already
  prepared (parsing, decoding and link decisions do not depend on the
  recipient): what each extra copy of a campaign costs;
- campaign: copies/s of a 1,000-recipient send, the one prepare included.

The baseline is selectolax (lexbor) parsing and serialising the same decoded
HTML, measured in the same run; ratio = ours / baseline (above 1 = faster).
The baseline does less: no MIME, no tokens, and it changes the document.
"""

from __future__ import annotations

import argparse
import email
import email.policy
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

from selectolax.lexbor import LexborHTMLParser

sys.path.insert(0, str(Path(__file__).resolve().parent))
from newsletters import newsletter_message  # noqa: E402

from mailbeacon.instrument import Plan, TokenTracker, instrument_message, prepare_message  # noqa: E402
from mailbeacon.tokens import Keyring  # noqa: E402

KEYRING = Keyring({0: b"benchmark-key-benchmark-key-0000"}, active=0)
TRACKER = TokenTracker("https://t.example.com", KEYRING, delivery=bytes(12))


def rate(fn: Callable[[], object], seconds: float) -> float:
    """Calls per second of `fn`, best of three runs of about seconds/3 each."""
    fn()
    best = 0.0
    for _ in range(3):
        n, start = 0, time.perf_counter()
        deadline = start + seconds / 3
        while (now := time.perf_counter()) < deadline:
            fn()
            n += 1
        best = max(best, n / (now - start))
    return best


def html_of(raw: bytes) -> list[bytes]:
    msg = email.message_from_bytes(raw, policy=email.policy.compat32)
    return [p.get_payload(decode=True) or b"" for p in msg.walk() if p.get_content_type() == "text/html"]


def baseline(htmls: list[bytes]) -> Callable[[], object]:
    def run() -> None:
        for html in htmls:
            LexborHTMLParser(html).html

    return run


def measure(name: str, messages: list[bytes], seconds: float) -> None:
    plan = Plan()
    total = sum(map(len, messages))
    htmls = [h for raw in messages for h in html_of(raw)]
    prepared = [prepare_message(raw, plan, TRACKER) for raw in messages]

    def single() -> None:
        for raw in messages:
            instrument_message(raw, plan, TRACKER)

    def copy() -> None:
        for one in prepared:
            one.render(TRACKER)

    base = rate(baseline(htmls), seconds) * len(messages)
    once = rate(single, seconds) * len(messages)
    per_copy = rate(copy, seconds) * len(messages)
    campaign = 1000 / (1 / once + 999 / per_copy)
    print(f"{name} ({total / len(messages) / 1000:.0f} KB average)")
    print(f"  baseline parse+serialise {base:>9,.0f} msg/s")
    for label, value in (("single", once), ("per copy", per_copy), ("campaign of 1,000", campaign)):
        mb = value * total / len(messages) / 1e6
        print(f"  {label:<24} {value:>9,.0f} msg/s {mb:>7.1f} MB/s   ratio {value / base:5.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="time per measurement")
    default_corpus = Path(__file__).resolve().parents[2] / "shared" / "corpus"
    parser.add_argument("--corpus", type=Path, default=Path(os.environ.get("MAILBEACON_CORPUS", default_corpus)))
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})  # one core, as the issue asks
    print(f"python {sys.version.split()[0]}, one core, best of 3 x {args.seconds / 3:.1f}s")
    measure("newsletter 50 KB, 30 links (QP)", [newsletter_message(50_000, 30)], args.seconds)
    measure("newsletter 100 KB, 50 links (QP)", [newsletter_message(100_000, 50)], args.seconds)
    corpus: list[bytes] = []
    wrap = b"MIME-Version: 1.0\r\nContent-Type: text/html; charset=utf-8\r\n\r\n"
    for path in sorted((args.corpus / "html").glob("*.html")):
        corpus.append(wrap + path.read_bytes())
    for path in sorted((args.corpus / "mime").glob("*.eml")):
        corpus.append(path.read_bytes())
    if corpus:
        measure(f"corpus ({len(corpus)} messages)", corpus, args.seconds * 2)
    else:
        print(f"corpus not found at {args.corpus}: skipped")


if __name__ == "__main__":
    main()
