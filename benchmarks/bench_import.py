"""How long `mailbeacon contacts import` takes for a large CSV: reading, then the store, then a re-import.

Run: .venv/bin/python benchmarks/bench_import.py [--rows 100000] [--db postgresql://...]

Generates a CSV like a real export (email, First Name, Last Name, City; 1 % bad
addresses, 1 % duplicates in another case), imports it into a fresh store
(SQLite in a temporary directory unless --db is given) through the same code the
CLI runs, and prints seconds for the read/validate step and the store step, the
counts, and the process's peak resident memory. A second import of the same
file shows what a re-import (everything known already) costs.
"""

from __future__ import annotations

import argparse
import random
import resource
import tempfile
import time
from pathlib import Path

from mailbeacon.campaigns.contacts import read_contacts
from mailbeacon.campaigns.imports import import_contacts
from mailbeacon.store import open_store

FIRST = ["Ann", "Bob", "Carol", "Dan", "Eve", "Zoë", "José", "Li", "Noor", "Olu"]
CITIES = ["Oslo", "Paris", "Lagos", "São Paulo", "Osaka", "Austin", "Berlin"]
DOMAINS = ["example.com", "example.org", "mail.example.net", "corp.example.co.uk", "exämple.de"]


def make_csv(rows: int, seed: int = 7) -> bytes:
    rng = random.Random(seed)
    lines = ["email,First Name,Last Name,City"]
    for i in range(rows):
        roll = rng.random()
        if roll < 0.01:
            email = f"broken{i}.example.com"
        elif roll < 0.02 and i > 10:
            email = f"USER{rng.randrange(i)}@{DOMAINS[0].upper()}"
        else:
            email = f"user{i}@{rng.choice(DOMAINS)}"
        lines.append(f'{email},{rng.choice(FIRST)},"Smith, {i}",{rng.choice(CITIES)}')
    return ("\r\n".join(lines) + "\r\n").encode()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--db", default=None, help="A store URL; default: SQLite in a temporary directory.")
    args = parser.parse_args()
    data = make_csv(args.rows)
    with tempfile.TemporaryDirectory() as folder:
        url = args.db or f"sqlite:///{Path(folder) / 'bench.db'}"
        with open_store(url) as store:
            store.migrate()
            started = time.perf_counter()
            parsed = read_contacts(data)
            read_s = time.perf_counter() - started
            print(f"{args.rows} rows, {len(data) / 1e6:.1f} MB: read and validated in {read_s:.2f} s "
                  f"({len(parsed.contacts)} contacts, {len(parsed.skipped)} skipped, {len(parsed.duplicates)} merged)")
            for attempt in ("first import", "re-import"):
                started = time.perf_counter()
                result = import_contacts(store, data, "bench")
                total = time.perf_counter() - started
                c = result.counts
                print(f"{attempt}: {total:.2f} s in all ({args.rows / total:,.0f} rows/s): {c.created} new, "
                      f"{c.updated} updated, {c.unchanged} unchanged, {c.added} added to the list")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak resident memory: {peak:.0f} MB ({url.split(':')[0]})")


if __name__ == "__main__":
    main()
