"""A private PostgreSQL cluster for tests that freeze or stop the database: initdb in a temp dir, pg_ctl on a free port.

The shared cluster on 5432 serves every other test, so it is never frozen. As root the
cluster runs as the `postgres` user (PostgreSQL refuses to run as root). Where the server
binaries are absent the test skips with the reason, or fails under MAILBEACON_REQUIRE_POSTGRES (CI).
"""

from __future__ import annotations

import ipaddress
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

import pytest


@dataclass
class Cluster:
    data: Path
    port: int
    bindir: Path
    as_postgres: list[str]
    """runuser -u postgres -- when we are root (PostgreSQL refuses to run as root)."""
    listen: str = "127.0.0.1"
    """listen_addresses: loopback, and the addresses other hosts (network namespaces) reach it on."""

    def pg_ctl(self, *args: str) -> None:
        command = [str(self.bindir / "pg_ctl"), "-D", str(self.data), *args]
        done = subprocess.run([*self.as_postgres, *command], capture_output=True, text=True, timeout=120)
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(command)} failed:\n{done.stdout}\n{done.stderr}")

    def start(self) -> None:
        root = self.data.parent
        options = f"-p {self.port} -c listen_addresses={self.listen} -c unix_socket_directories={root}"
        self.pg_ctl("-l", str(root / "server.log"), "-o", options, "-w", "-t", "60", "start")

    def stop(self, mode: str = "fast") -> None:
        """Stop the cluster (pg_ctl -m MODE): new connections are refused until start()."""
        self.pg_ctl("-m", mode, "-w", "stop")

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def processes(self) -> list[int]:
        """The postmaster and every process it forked (backends, checkpointer, walwriter, ...)."""
        postmaster = int((self.data / "postmaster.pid").read_text().split("\n", 1)[0])
        children = []
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    stat = (entry / "stat").read_text()
                except OSError:
                    continue  # ended meanwhile
                if int(stat.rsplit(")", 1)[1].split()[1]) == postmaster:
                    children.append(int(entry.name))
        return [postmaster, *children]

    def freeze(self) -> None:
        """SIGSTOP every process of the cluster: connections stay open, and nothing answers."""
        for pid in self.processes():
            os.kill(pid, signal.SIGSTOP)

    def thaw(self) -> None:
        for pid in self.processes():
            os.kill(pid, signal.SIGCONT)


def _unavailable(reason: str) -> NoReturn:
    if os.environ.get("MAILBEACON_REQUIRE_POSTGRES"):
        pytest.fail(reason + "; MAILBEACON_REQUIRE_POSTGRES is set (CI), so this is a failure")
    pytest.skip(reason)


def _bindir() -> Path | None:
    for candidate in sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=lambda p: int(p.parent.name), reverse=True):
        if (candidate / "initdb").exists() and (candidate / "pg_ctl").exists():
            return candidate
    found = shutil.which("initdb")
    return Path(found).parent if found and shutil.which("pg_ctl") else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def private_cluster(also_on: Sequence[str] = ()) -> Iterator[Cluster]:
    """`also_on`: more interfaces to listen on, as ADDRESS/PREFIX, whose network may connect (trust),
    e.g. the bridge the hosts of tests/support/netns.py reach this machine on."""
    bindir = _bindir()
    if bindir is None:
        _unavailable("PostgreSQL server binaries (initdb, pg_ctl) not found: apt-get install postgresql")
    as_postgres: list[str] = []
    root = Path(tempfile.mkdtemp(prefix="mb-pg-"))  # in /tmp: the postgres user cannot enter pytest's dirs
    if os.geteuid() == 0:
        if shutil.which("runuser") is None:
            _unavailable("runuser not found: it runs PostgreSQL as the postgres user")
        try:
            owner = pwd.getpwnam("postgres")
        except KeyError:
            _unavailable("no postgres user to run a private PostgreSQL cluster as")
        os.chown(root, owner.pw_uid, owner.pw_gid)
        as_postgres = ["runuser", "-u", "postgres", "--"]
    listen = ",".join(["127.0.0.1", *(str(ipaddress.ip_interface(i).ip) for i in also_on)])
    cluster = Cluster(root / "data", _free_port(), bindir, as_postgres, listen)
    try:
        initdb = [str(bindir / "initdb"), "-D", str(cluster.data), "-U", "postgres", "-A", "trust", "--no-sync"]
        done = subprocess.run([*as_postgres, *initdb], capture_output=True, text=True, timeout=120)
        if done.returncode != 0:
            raise RuntimeError(f"initdb failed:\n{done.stdout}\n{done.stderr}")
        if also_on:
            with (cluster.data / "pg_hba.conf").open("a") as hba:
                for interface in also_on:
                    hba.write(f"host all all {ipaddress.ip_interface(interface).network} trust\n")
        cluster.start()
        try:
            yield cluster
        finally:
            try:
                cluster.thaw()  # a failed test may have left it frozen
            except (OSError, ValueError):
                pass
            try:
                cluster.stop("immediate")
            except RuntimeError:
                pass  # a test may have stopped it already
    finally:
        shutil.rmtree(root, ignore_errors=True)
