"""Start `mailbeacon serve` for real, on 127.0.0.1 and a port the OS picks, and wait for it."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    url: str
    data_dir: Path
    log: Path
    smtp: tuple[str, int] | None = None
    """The relay's address, when it runs."""

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def connect(self, timeout: float = 10.0) -> socket.socket:
        """A raw TCP connection to the tracking server, for bytes no HTTP client would send."""
        host, port = self.url.removeprefix("http://").rsplit(":", 1)
        return socket.create_connection((host, int(port)), timeout=timeout)

    def exchange(self, data: bytes) -> bytes:
        """Send `data` on a connection of its own and read until the server closes it."""
        with self.connect() as raw:
            raw.sendall(data)
            answer = b""
            while chunk := raw.recv(65536):
                answer += chunk
        return answer

    def kill(self) -> None:
        """kill -9 the whole process group: no shutdown handler runs."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()


def start_server(
    data_dir: Path, *args: str, timeout: float = 20.0, module: str = "mailbeacon serve", http: str = "127.0.0.1:0",
    wrap: Sequence[str] = (),
) -> Server:
    """`module` is what `python -m` runs, with its arguments (tests/support/plain_uvicorn.py takes the same);
    `wrap` goes before it (`ip netns exec HOST`: a node on a host of its own, tests/support/netns.py)."""
    log = data_dir.parent / f"{data_dir.name}-server-{time.monotonic_ns()}.log"
    data_dir.mkdir(parents=True, exist_ok=True)
    out = log.open("wb")
    if "--smtp" not in args:
        args = ("--smtp", "127.0.0.1:0", *args)  # a port of its own: tests run several servers
    process = subprocess.Popen(
        [*wrap, sys.executable, "-m", *module.split(), "--http", http, "--data", str(data_dir), *args],
        stdout=out,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    out.close()
    deadline = time.monotonic() + timeout
    url = None
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"mailbeacon serve exited with {process.returncode}:\n{log.read_text(errors='replace')}")
        output = log.read_text(errors="replace")
        found = re.search(r"(?:tracking|health) on (http://[\d.]+:\d+)", output)  # health: no web role
        if found:
            url = found.group(1)
            relay = re.search(r"SMTP relay on ([\d.]+):(\d+)", output)
            try:
                if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                    smtp = (relay.group(1), int(relay.group(2))) if relay else None
                    return Server(process, url, data_dir, log, smtp)
            except httpx.TransportError:
                pass
        time.sleep(0.05)
    server = Server(process, url or "", data_dir, log)
    server.kill()
    raise RuntimeError(f"mailbeacon serve not ready after {timeout}s:\n{server.output()}")


@contextmanager
def running_server(data_dir: Path, *args: str, module: str = "mailbeacon serve") -> Iterator[Server]:
    server = start_server(data_dir, *args, module=module)
    try:
        yield server
    finally:
        server.stop()
