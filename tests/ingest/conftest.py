"""A real SQLite store per test, migrated, for the ingest tests to write into."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from mailbeacon.store import Store, open_store


@pytest.fixture()
def store(tmp_path: Path) -> Iterator[Store]:
    opened = open_store(f"sqlite:///{tmp_path / 'mailbeacon.db'}")
    opened.migrate()
    yield opened
    opened.close()
