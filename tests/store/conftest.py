"""The store fixture: every store test runs on SQLite and on PostgreSQL (skipped with the reason if absent)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from mailbeacon.store import Store, open_store
from tests.support import databases


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[str]:
    """One throwaway PostgreSQL database for the session."""
    with databases.throwaway_postgres() as url:
        yield url


@pytest.fixture(params=["sqlite", "postgres"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database, not migrated."""
    if request.param == "sqlite":
        yield databases.sqlite_url(tmp_path)
        return
    with databases.fresh_schema(request.getfixturevalue("postgres_database")) as url:
        yield url


@pytest.fixture()
def store(store_url: str) -> Iterator[Store]:
    """A migrated store, closed after the test."""
    with open_store(store_url) as opened:
        opened.migrate()
        yield opened
