"""`mailbeacon serve` stops cleanly on SIGTERM and SIGINT, and logs each accepted message and delivery."""

from __future__ import annotations

import os
import re
import signal
import time
from pathlib import Path

import httpx
import pytest

from tests.support.servers import start_server
from tests.support.smtp import Sink, add_user, relay_client, running_sink

MESSAGE = (
    "From: Ada <ada@example.com>\r\nTo: bob@example.org, carol@example.org\r\nSubject: Stop test\r\n"
    "MIME-Version: 1.0\r\nContent-Type: text/html; charset=utf-8\r\n\r\n"
    '<html><body><p>Hi, <a href="https://example.com/x">a link</a>.</p></body></html>\r\n'
)
TROUBLE = ("Traceback", "Task was destroyed", "cannot reuse already awaited", "RuntimeWarning", "Exception in",
           "ERROR", "was never awaited", "Aborted!")


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_busy_server_stops_with_status_0_and_no_traceback(tmp_path: Path, signum: int) -> None:
    data = tmp_path / "data"
    ada = add_user(data, "ada@example.com")
    with running_sink() as sink:
        server = start_server(data, "--upstream", sink.url)
        try:
            assert server.smtp is not None
            with relay_client(server.smtp, ada) as client:
                client.sendmail(ada.email, ["bob@example.org", "carol@example.org"], MESSAGE)
            copies = sink.wait_for(2)
            pixel = re.search(rb'src="(http://[^"]+/o/[^"]+)"', copies[0].content)
            assert pixel is not None
            assert httpx.get(pixel.group(1).decode(), timeout=10).status_code == 200
            with relay_client(server.smtp, ada) as writing, httpx.Client(base_url=server.url, timeout=10) as http:
                writing.mail(ada.email)  # a client in the middle of its DATA while the server stops
                writing.rcpt("bob@example.org")
                writing.putcmd("data")
                assert writing.getreply()[0] == 354
                writing.send(b"From: ada@example.com\r\n")
                with http.stream("GET", "/api/v1/stream", headers={"Authorization": f"Bearer {ada.api_key}"}):
                    os.killpg(server.process.pid, signum)  # and a live stream open
                    code = server.process.wait(timeout=20)
        finally:
            server.kill()
    output = server.output()
    assert code == 0, output
    for word in TROUBLE:
        assert word not in output, output
    accepted = [line for line in output.splitlines() if "accepted message" in line]
    assert len(accepted) == 1, output
    assert "from ada@example.com" in accepted[0] and "2 recipients" in accepted[0], accepted
    assert re.search(r"\d+ bytes", accepted[0]) and re.search(r"message \d+ from", accepted[0]), accepted
    delivered = [line for line in output.splitlines() if "delivered" in line and "to bob@example.org" in line]
    assert len(delivered) == 1 and "250" in delivered[0], output


def test_a_temporary_refusal_is_logged_with_the_upstream_reply(tmp_path: Path) -> None:
    data = tmp_path / "data"
    ada = add_user(data, "ada@example.com")
    with running_sink() as sink:
        sink.handler.reply = lambda envelope: "451 4.3.0 try again later"
        server = start_server(data, "--upstream", sink.url, "--retry-after", "600")
        try:
            assert server.smtp is not None
            with relay_client(server.smtp, ada) as client:
                client.sendmail(ada.email, ["bob@example.org"], MESSAGE.replace(", carol@example.org", ""))
            deadline = time.monotonic() + 20
            while "451 4.3.0 try again later" not in server.output():
                assert time.monotonic() < deadline, server.output()
                time.sleep(0.1)
        finally:
            server.stop()
    assert "to bob@example.org" in [l for l in server.output().splitlines() if "451" in l][0]
