"""The instrumentation core: raw message bytes in, tracked bytes and a report out.

Pure: no I/O, no clock, no randomness, no server or database. Everything
about how an email must survive tracking lives here and is tested here.

>>> from mailbeacon.instrument import Plan, instrument_message
"""

from __future__ import annotations

from mailbeacon.instrument.headers import field_values, header_end, remove_fields
from mailbeacon.instrument.message import Instrumented, Prepared, instrument_message, prepare_message
from mailbeacon.instrument.plan import Plan
from mailbeacon.instrument.report import LinkReport, Notice, PartReport, Report, SkipReason
from mailbeacon.instrument.tracker import Recognised, TokenTracker, Tracker

__all__ = [
    "Instrumented",
    "LinkReport",
    "Notice",
    "PartReport",
    "Plan",
    "Prepared",
    "Recognised",
    "Report",
    "SkipReason",
    "TokenTracker",
    "Tracker",
    "field_values",
    "header_end",
    "instrument_message",
    "prepare_message",
    "remove_fields",
]
