"""The hot-path writer: record a raw event durably, in the store or, while it is down, the spool.

While neither can take it (disk full) it waits in a bounded buffer in memory and is retried.
"""

from __future__ import annotations

from mailbeacon.ingest.batcher import Batcher, IngestStats
from mailbeacon.ingest.memory import MEMORY_BYTES, MEMORY_EVENTS, HeldEvents
from mailbeacon.ingest.spool import Spool

__all__ = ["MEMORY_BYTES", "MEMORY_EVENTS", "Batcher", "HeldEvents", "IngestStats", "Spool"]
