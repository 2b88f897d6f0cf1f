"""Durable opens/s and clicks/s of `mailbeacon serve`, next to nginx serving the same GIF.

Run: .venv/bin/python benchmarks/bench_tracking.py [--seconds 10] [--connections 64] [--postgres URL]

Installs nginx and wrk from Debian's packages when missing. The server under
test (and nginx for the baseline) is pinned to core 0, wrk to core 1, with
keep-alive connections, as the issue asks. Each request carries a valid,
distinct token, so every answered open is a row written with group commit;
after each run the store is counted to check that every answered request was
stored. Prints requests/s, p50/p99 latency and the ratio to nginx of each run, then the median
ratio over `--rounds` alternating rounds (the test VM is noisy from one run to the next).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from mailbeacon.store import open_store  # noqa: E402
from mailbeacon.tokens import Keyring  # noqa: E402
from mailbeacon.web.tracking import GIF  # noqa: E402
from tests.support.servers import start_server  # noqa: E402

LUA = """
local paths = {}
for line in io.lines("%s") do paths[#paths + 1] = line end
local i = 0
request = function()
  i = i %% #paths + 1
  return wrk.format("GET", paths[i])
end
"""


def ensure_tools() -> None:
    if shutil.which("nginx") and shutil.which("wrk"):
        return
    print("installing nginx-light and wrk from Debian's packages...", flush=True)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    if subprocess.run(["apt-get", "install", "-y", "-q", "nginx-light", "wrk"], env=env, capture_output=True).returncode:
        subprocess.run(["apt-get", "update", "-q"], env=env, check=True, capture_output=True)
        subprocess.run(["apt-get", "install", "-y", "-q", "nginx-light", "wrk"], env=env, check=True, capture_output=True)


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wrk(url: str, seconds: float, connections: int, paths: Path | None = None) -> dict[str, float]:
    cmd = ["taskset", "-c", "1", "wrk", "-t1", f"-c{connections}", f"-d{max(1, round(seconds))}s", "--latency"]
    if paths is not None:
        script = paths.with_suffix(".lua")
        script.write_text(LUA % paths)
        cmd += ["-s", str(script)]
    out = subprocess.run([*cmd, url], capture_output=True, text=True, check=True).stdout
    result = {"rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))}  # type: ignore[union-attr]
    result["requests"] = float(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    result["bad"] = float(errors.group(1)) if errors else 0.0
    for pct in ("50", "99"):
        m = re.search(rf"\s{pct}%\s+([\d.]+)(us|ms|s)", out)
        assert m is not None, out
        value = float(m.group(1)) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[m.group(2)]
        result[f"p{pct}"] = value
    return result


def nginx_baseline(work: Path, seconds: float, connections: int) -> dict[str, float]:
    (work / "www" / "o").mkdir(parents=True)
    (work / "www" / "o" / "pixel.gif").write_bytes(GIF)
    port = free_port()
    conf = work / "nginx.conf"
    conf.write_text(
        f"worker_processes 1; daemon off; error_log {work}/nginx-error.log; pid {work}/nginx.pid;\n"
        "events { worker_connections 4096; }\n"
        "http { access_log off; server { listen 127.0.0.1:%d; root %s/www;\n"
        '  location /o/ { add_header Cache-Control "no-cache, no-store, must-revalidate, private"; } } }\n' % (port, work)
    )
    nginx = subprocess.Popen(["taskset", "-c", "0", "nginx", "-c", str(conf)])
    try:
        time.sleep(0.5)
        return wrk(f"http://127.0.0.1:{port}/o/pixel.gif", seconds, connections)
    finally:
        nginx.terminate()
        nginx.wait(timeout=10)


def run_server(
    name: str, work: Path, seconds: float, connections: int, db: str | None, base: dict[str, float]
) -> dict[str, float]:
    """Opens, then clicks; prints each run and returns the ratio to nginx of each."""
    ratios: dict[str, float] = {}
    data = work / f"data-{name}-{secrets.token_hex(3)}"
    args = ["--db", db] if db else []
    server = start_server(data, *args)
    try:
        subprocess.run(["taskset", "-a", "-p", "-c", "0", str(server.process.pid)], check=True, capture_output=True)
        keyring = Keyring.load_or_create(data)
        for kind in ("open", "click"):
            paths = work / f"{name}-{kind}.txt"
            with paths.open("w") as f:
                for _ in range(100_000):  # distinct tokens: more than one run sends
                    delivery = secrets.token_bytes(12)
                    if kind == "open":
                        f.write(f"/o/{keyring.sign_open(delivery)}.gif\n")
                    else:
                        f.write(f"/c/{keyring.sign_click(delivery, 0, 'https://example.com/landing?id=42')}\n")
            store = open_store(db or f"sqlite:///{data / 'mailbeacon.db'}")
            before = store.count_events()
            result = wrk(server.url + "/", seconds, connections, paths)
            time.sleep(0.5)
            stored = store.count_events() - before
            store.close()
            answered = result["requests"] - result["bad"]
            ratios[kind] = result["rps"] / base["rps"] if stored >= answered else 0.0
            verdict = "every answered request stored" if stored >= answered else f"LOST {answered - stored:.0f}"
            print(
                f"{name:<10} {kind + 's':<7} {result['rps']:>9,.0f} req/s  p50 {result['p50']:6.2f} ms  "
                f"p99 {result['p99']:6.2f} ms  ratio to nginx {result['rps'] / base['rps']:5.2f}  "
                f"({answered:,.0f} answered, {stored:,} stored: {verdict})",
                flush=True,
            )
    finally:
        server.stop()
    return ratios


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=3,
                        help="nginx and mailbeacon are measured alternately this many times (this VM is noisy)")
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/postgres",
                        help="admin URL; a throwaway database is created there ('' to skip)")
    args = parser.parse_args()
    ensure_tools()
    ratios: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory(prefix="mb-bench-") as tmp, contextlib.ExitStack() as stack:
        work = Path(tmp)
        pg_url = None
        if args.postgres:
            from tests.support.databases import throwaway_postgres

            pg_url = stack.enter_context(throwaway_postgres(args.postgres))
            if pg_url is None:
                print("postgres: not reachable, skipped")
        for round_ in range(1, args.rounds + 1):
            print(f"-- round {round_} of {args.rounds}", flush=True)
            base = nginx_baseline(work / f"nginx-{round_}", args.seconds, args.connections)
            print(f"nginx      gif     {base['rps']:>9,.0f} req/s  p50 {base['p50']:6.2f} ms  "
                  f"p99 {base['p99']:6.2f} ms  (baseline, one worker, core 0)", flush=True)
            backends = [("sqlite", None)] + ([("postgres", pg_url)] if pg_url else [])
            for name, db in backends:
                for kind, ratio in run_server(name, work, args.seconds, args.connections, db, base).items():
                    ratios.setdefault(f"{name} {kind}s", []).append(ratio)
    print("-- median ratio to nginx over the rounds (0 where an answered request was not stored)")
    for label, values in ratios.items():
        print(f"{label:<17} {statistics.median(values):5.2f}  (rounds: {', '.join(f'{v:.2f}' for v in values)})")


if __name__ == "__main__":
    main()
