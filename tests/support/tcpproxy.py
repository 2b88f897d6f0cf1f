"""A TCP proxy that breaks one IMAP APPEND on purpose: the provider's end of a bad connection, for real.

Between a client and a real server it forwards bytes both ways. Armed with a fault it
breaks the next APPEND once, then passes everything again:
- "cut_request": the APPEND and part of its literal reach the server, then both sides are closed;
- "lose_reply": the whole APPEND reaches the server (which stores the message), then the
  server's "Append completed" is never passed on and both sides are closed;
- "refuse": every connection is closed at once, until the fault is cleared.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager


class FaultyProxy:
    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.fault: str | None = None
        self.faults_done: list[str] = []
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        self._sockets: list[socket.socket] = []
        self._closed = False
        self._accepting = threading.Thread(target=self._accept, daemon=True)
        self._accepting.start()

    def arm(self, fault: str | None) -> None:
        with self._lock:
            self.fault = fault

    def _take(self, fault: str) -> bool:
        """True once for an armed one-shot fault (refuse stays until cleared)."""
        with self._lock:
            if self.fault != fault:
                return False
            if fault != "refuse":
                self.fault = None
            self.faults_done.append(fault)
            return True

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            if self._take("refuse"):
                client.close()
                continue
            try:
                server = socket.create_connection(self.target, timeout=10)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._sockets += [client, server]
            state = {"append": False}
            for source, sink, upstream in ((client, server, True), (server, client, False)):
                thread = threading.Thread(target=self._pump, args=(source, sink, upstream, state, client, server),
                                          daemon=True)
                thread.start()
                self._threads.append(thread)

    def _pump(self, source: socket.socket, sink: socket.socket, upstream: bool, state: dict[str, bool],
              client: socket.socket, server: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                if upstream and b" APPEND " in data.upper():
                    state["append"] = True
                    if self._take("cut_request"):
                        sink.sendall(data[: data.upper().index(b" APPEND ") + 200])  # the command, part of the literal
                        break
                if not upstream and state["append"] and b"Append completed" in data and self._take("lose_reply"):
                    break
                sink.sendall(data)
        except OSError:
            pass
        for sock in (client, server):
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def close(self) -> None:
        self._closed = True
        self._listener.close()
        with self._lock:
            for sock in self._sockets:
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
        for thread in self._threads:
            thread.join(timeout=5)
        with self._lock:
            for sock in self._sockets:
                sock.close()
        self._accepting.join(timeout=5)


@contextmanager
def faulty_proxy(target: tuple[str, int]) -> Iterator[FaultyProxy]:
    proxy = FaultyProxy(target)
    try:
        yield proxy
    finally:
        proxy.close()
