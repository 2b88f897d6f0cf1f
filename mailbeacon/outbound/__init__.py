"""Delivering queued copies: the worker, and the transports it hands them to."""

from __future__ import annotations

from mailbeacon.outbound.transports import CaptureTransport, Outcome, Result, SmtpTransport, Transport, Upstream
from mailbeacon.outbound.worker import OutboundWorker, RetryPolicy

__all__ = [
    "CaptureTransport",
    "OutboundWorker",
    "Outcome",
    "Result",
    "RetryPolicy",
    "SmtpTransport",
    "Transport",
    "Upstream",
]
