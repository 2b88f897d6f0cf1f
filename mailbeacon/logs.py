"""The server's log: every record of every logger, as text or JSON lines, each with the node's name.

JSON lines are for collectors (Loki, Elasticsearch, journald's forwarders): one object a line
with `time`, `level`, `logger`, `node`, `message`, any `extra={...}` fields the caller gave,
and `exception` when there is one. Stdlib only: any module may log without knowing the format.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from typing import Any, TextIO

FORMATS = ("text", "json")
LEVELS = ("debug", "info", "warning", "error")
_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime", "node", "taskName"}
"""Attributes every LogRecord has; the others came from `extra=` and go into the JSON object."""


class NodeName(logging.Filter):
    """Stamps each record with this node's name (issue 17: many nodes write to one collector)."""

    def __init__(self, node: str) -> None:
        super().__init__()
        self.node = node

    def filter(self, record: logging.LogRecord) -> bool:
        record.node = self.node
        return True


class JsonLines(logging.Formatter):
    """One JSON object a line; values that JSON cannot hold are written as their str().

    >>> record = logging.makeLogRecord({"msg": "sent %d", "args": (3,), "levelname": "INFO", "name": "x",
    ...                                  "created": 0.0, "msecs": 0.0, "node": "a", "delivery": "ab12"})
    >>> JsonLines().format(record)
    '{"time": "1970-01-01T00:00:00.000Z", "level": "info", "logger": "x", "node": "a", "message": "sent 3", "delivery": "ab12"}'
    """

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "node": getattr(record, "node", ""),
            "message": record.getMessage(),
        }
        line.update((key, value) for key, value in vars(record).items() if key not in _STANDARD)
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str, ensure_ascii=False)


TEXT = "%(asctime)s %(levelname)s %(name)s [%(node)s] %(message)s"


def configure(node: str, log_format: str = "text", level: str = "info", stream: TextIO | None = None) -> None:
    """Send every logger's records (uvicorn's too: it is told not to configure its own) to one handler."""
    if log_format not in FORMATS:
        raise ValueError(f"log format is one of {', '.join(FORMATS)}, not {log_format!r}")
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.addFilter(NodeName(node))
    handler.setFormatter(JsonLines() if log_format == "json" else logging.Formatter(TEXT))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access", "uvicorn.asgi"):
        logging.getLogger(name).handlers.clear()
        logging.getLogger(name).propagate = True
    # aiosmtpd logs every connection and command at INFO: the relay's own line per message says what matters.
    logging.getLogger("mail.log").setLevel("DEBUG" if level.lower() == "debug" else "WARNING")
