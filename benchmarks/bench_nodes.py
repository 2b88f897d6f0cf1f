"""Aggregate durable opens/s of one, two and three `mailbeacon serve` nodes on one PostgreSQL (issue #17).

Run: .venv/bin/python benchmarks/bench_nodes.py [--seconds 10] [--connections 64] [--nodes 1,2,3]

Each node is a server of its own (its own port and data directory, the same signing keys)
on a private PostgreSQL cluster that only this benchmark uses, so the cluster's CPU time
is ours: the postmaster and every process it forked (from /proc, children that ended
included), divided by the events stored. wrk sends every request a distinct valid token,
the connections split evenly over the nodes; the nodes are pinned to core 0, wrk to
core 1, PostgreSQL runs where the kernel puts it. After each run the store is counted:
the figure is 0 where an answered request was not stored. On two cores the aggregate
cannot grow much with nodes; the CPU PostgreSQL spends per event says how far one
database goes. Installs wrk from Debian's packages when missing.
"""

from __future__ import annotations

import argparse
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.bench_tracking import ensure_tools, wrk  # noqa: E402
from mailbeacon.store import open_store  # noqa: E402
from mailbeacon.tokens import Keyring  # noqa: E402
from tests.support.databases import throwaway_postgres  # noqa: E402
from tests.support.pg_cluster import Cluster, private_cluster  # noqa: E402
from tests.support.servers import Server, start_server  # noqa: E402

TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(cluster: Cluster) -> float:
    """User and system time of the cluster's processes so far, with that of the children they reaped."""
    postmaster, *children = cluster.processes()
    total = 0
    for pid in (postmaster, *children):
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # ended meanwhile: its time is in the postmaster's cutime from now on
        total += int(fields[11]) + int(fields[12])  # utime, stime
        if pid == postmaster:
            total += int(fields[13]) + int(fields[14])  # cutime, cstime: backends that ended
    return total / TICKS


def start_nodes(work: Path, count: int, db: str) -> list[Server]:
    first = work / "node-0"
    first.mkdir(mode=0o700)
    Keyring.load_or_create(first)
    servers = []
    for n in range(count):
        data = work / f"node-{n}"
        if n:
            data.mkdir(mode=0o700)
            shutil.copy2(first / "keys", data / "keys")
        server = start_server(data, "--db", db, "--node-name", f"node-{n}", "--smtp", "off", timeout=60)
        subprocess.run(["taskset", "-a", "-p", "-c", "0", str(server.process.pid)], check=True, capture_output=True)
        servers.append(server)
    return servers


def run(work: Path, count: int, seconds: float, connections: int, cluster: Cluster) -> None:
    with throwaway_postgres(cluster.url) as db:
        servers = start_nodes(work, count, db)
        try:
            keyring = Keyring.load_or_create(work / "node-0")
            store = open_store(db)
            before = store.count_events()
            time.sleep(2.0)  # the nodes' start-up (migrations, leases) out of the measurement
            cpu_before = cpu_seconds(cluster)
            results: list[dict[str, float]] = []
            lock = threading.Lock()

            def load(server: Server, n: int) -> None:
                paths = work / f"opens-{count}-{n}.txt"
                with paths.open("w") as f:
                    for _ in range(150_000):  # distinct tokens: more than a run sends
                        f.write(f"/o/{keyring.sign_open(secrets.token_bytes(12))}.gif\n")
                result = wrk(server.url + "/", seconds, max(1, connections // count), paths)
                with lock:
                    results.append(result)

            threads = [threading.Thread(target=load, args=(server, n)) for n, server in enumerate(servers)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            time.sleep(1.0)  # the last group commits
            stored = store.count_events() - before
            cpu = cpu_seconds(cluster) - cpu_before
            store.close()
        finally:
            for server in servers:
                server.stop()
    answered = sum(r["requests"] - r["bad"] for r in results)
    rps = sum(r["rps"] for r in results)
    p99 = max(r["p99"] for r in results)
    durable = stored >= answered
    print(
        f"{count} node{'s' if count > 1 else ' '}  {rps if durable else 0.0:>9,.0f} durable opens/s  "
        f"worst p99 {p99:7.2f} ms  PostgreSQL {cpu:6.2f} s CPU, {cpu / max(stored, 1) * 1e6:6.1f} us an event  "
        f"({answered:,.0f} answered, {stored:,} stored{'' if durable else ': LOST SOME'})",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--connections", type=int, default=64, help="in all, split evenly over the nodes")
    parser.add_argument("--nodes", default="1,2,3", help="node counts to measure, comma-separated")
    args = parser.parse_args()
    ensure_tools()
    with tempfile.TemporaryDirectory(prefix="mb-bench-nodes-") as tmp, private_cluster() as cluster:
        for count in (int(n) for n in args.nodes.split(",")):
            work = Path(tmp) / f"{count}-nodes"
            work.mkdir()
            run(work, count, args.seconds, args.connections, cluster)


if __name__ == "__main__":
    main()
