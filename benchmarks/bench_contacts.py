"""How fast a page of contacts answers when the directory is big (issue #14, item 5).

Run: .venv/bin/python benchmarks/bench_contacts.py [--contacts 100000] [--written 1000] [--requests 5]
     [--db postgresql://...]

Contacts are one thing: the list joins the contact directory to the people a user wrote to. A
user wrote to `--written` people; the directory holds `--contacts` imported ones (fields
first_name and company). Printed: median milliseconds of a page of 50 (sorted by last sent and
by address, then searched by a field value and by an address), next to the baseline measured in
the same run: the same pages with an empty directory (the list of people written to alone, as
before the directory joined it), and the ratio.
"""

from __future__ import annotations

import argparse
import secrets
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from mailbeacon.store import ContactQuery, Copy, NewContact, Store, open_store

PAGES = [("last_sent", None), ("email", None), ("last_sent", "co42"), ("email", "c999@")]


def median_ms(call: Callable[[], object], requests: int) -> float:
    times = []
    for _ in range(requests):
        started = time.perf_counter()
        call()
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000


def written_to(store: Store, user_id: int, people: int) -> None:
    for first in range(0, people, 100):
        copies = [Copy(secrets.token_bytes(12), f"c{n}@example.org", (f"c{n}@example.org",), b"Subject: x\r\n\r\nx\r\n",
                       True, False) for n in range(first, min(first + 100, people))]
        store.queue_message(user_id=user_id, sender="ann@example.com", subject="x", message_id_header=None,
                            source="api", mail_from="ann@example.com", links=[], copies=copies)


def measure(store: Store, user_id: int, requests: int) -> list[float]:
    return [
        median_ms(lambda: store.contacts(ContactQuery(user_id=user_id, sort=sort, search=q), 0, 50), requests)
        for sort, q in PAGES
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contacts", type=int, default=100_000)
    parser.add_argument("--written", type=int, default=1_000)
    parser.add_argument("--requests", type=int, default=5)
    parser.add_argument("--db", default=None)
    args = parser.parse_args()
    url = args.db or f"sqlite:///{Path(tempfile.mkdtemp(prefix='bench-contacts-')) / 'mailbeacon.db'}"
    with open_store(url) as store:
        store.migrate()
        ann = store.add_user(f"ann-{secrets.token_hex(4)}@example.com", False, "basic", secrets.token_hex(8),
                             secrets.token_hex(8))
        written_to(store, ann, args.written)
        baseline = measure(store, ann, args.requests)
        started = time.perf_counter()
        store.import_contacts("bench", (NewContact(f"c{n}@example.org", {"first_name": f"N{n}", "company": f"Co{n % 97}"})
                                        for n in range(args.contacts)))
        print(f"{args.written:,} people written to; imported {args.contacts:,} contacts in "
              f"{time.perf_counter() - started:.1f} s")
        joined = measure(store, ann, args.requests)
    print(f"{'page (sort, q)':<24}{'written only':>14}{'with directory':>16}{'ratio':>8}")
    for (sort, q), before, after in zip(PAGES, baseline, joined):
        print(f"{sort + ', ' + (q or '-'):<24}{before:>11.1f} ms{after:>13.1f} ms{after / before:>8.1f}")


if __name__ == "__main__":
    main()
