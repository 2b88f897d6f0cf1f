"""Delivering queued copies: the worker, and the transports it hands them to."""

from __future__ import annotations

from mailbeacon.outbound.capture import CaptureTransport, read_captured
from mailbeacon.outbound.capture_index import Captured, CaptureIndex
from mailbeacon.outbound.capture_links import TrackedLink, delivery_of, tracked_links
from mailbeacon.outbound.transports import Outcome, Result, SmtpTransport, Transport, Upstream
from mailbeacon.outbound.worker import OutboundWorker, RetryPolicy

__all__ = [
    "CaptureTransport",
    "Captured",
    "CaptureIndex",
    "OutboundWorker",
    "Outcome",
    "Result",
    "RetryPolicy",
    "SmtpTransport",
    "TrackedLink",
    "Transport",
    "Upstream",
    "delivery_of",
    "read_captured",
    "tracked_links",
]
