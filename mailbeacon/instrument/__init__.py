"""The instrumentation core: raw message bytes in, tracked bytes and a report out.

Pure: no I/O, no clock, no randomness, no server or database. Everything
about how an email must survive tracking lives here and is tested here.

>>> from mailbeacon.instrument import Plan, instrument_message
"""

from __future__ import annotations

from mailbeacon.instrument.message import Instrumented, Plan, Prepared, instrument_message, prepare_message
from mailbeacon.instrument.report import LinkReport, PartReport, Report, SkipReason, Warning
from mailbeacon.instrument.tracker import Recognised, TokenTracker, Tracker

__all__ = [
    "Instrumented",
    "LinkReport",
    "PartReport",
    "Plan",
    "Prepared",
    "Recognised",
    "Report",
    "SkipReason",
    "TokenTracker",
    "Tracker",
    "Warning",
    "instrument_message",
    "prepare_message",
]
