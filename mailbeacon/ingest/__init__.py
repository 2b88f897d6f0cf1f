"""The hot-path writer: record a raw event durably, in the store or, while it is down, the spool."""

from __future__ import annotations

from mailbeacon.ingest.batcher import Batcher, IngestStats
from mailbeacon.ingest.spool import Spool

__all__ = ["Batcher", "IngestStats", "Spool"]
