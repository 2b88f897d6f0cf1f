"""SmtpTransport against a real aiosmtpd upstream that does not offer SMTPUTF8."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from aiosmtpd.controller import Controller

from mailbeacon.outbound.transports import Result, SmtpTransport, Upstream
from tests.support.smtp import SinkHandler, free_port

BODY = b"From: news@example.com\r\nSubject: hi\r\n\r\nhello\r\n"


@pytest.fixture()
def ascii_only() -> Iterator[tuple[SinkHandler, int]]:
    handler, port = SinkHandler(), free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port, enable_SMTPUTF8=False)
    controller.start()
    try:
        yield handler, port
    finally:
        controller.stop()
        controller.loop.close()


def test_an_idn_domain_goes_in_idna_to_an_upstream_without_smtputf8(ascii_only: tuple[SinkHandler, int]) -> None:
    handler, port = ascii_only
    transport = SmtpTransport(Upstream.parse(f"smtp://127.0.0.1:{port}"))
    try:
        assert transport.send("news@example.com", ["ann@exämple.de"], BODY).result is Result.SENT
        refused = transport.send("news@example.com", ["änn@example.de"], BODY)
        assert refused.result is Result.BOUNCED and "SMTPUTF8" in refused.reply
        assert transport.send("news@example.com", ["bob@example.de"], BODY).result is Result.SENT  # still usable
    finally:
        transport.close()
    assert [r.rcpt_tos for r in handler.received] == [["ann@xn--exmple-cua.de"], ["bob@example.de"]]
