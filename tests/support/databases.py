"""Throwaway databases for tests: a SQLite file, or a PostgreSQL database per session and a schema per test.

Plain helpers, not fixtures, so any test package's conftest can build its own
fixtures on them. PostgreSQL tests skip, with the reason, when the server is absent.
"""

from __future__ import annotations

import os
import secrets
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest
from psycopg import sql
from sqlalchemy.engine import make_url

ADMIN_URL = os.environ.get("MAILBEACON_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
"""A role that may CREATE DATABASE, on a database that exists (usually `postgres`)."""


def sqlite_url(directory: Path, name: str = "mailbeacon.db") -> str:
    return f"sqlite:///{directory / name}"


def _conninfo(url: str) -> str:
    """psycopg wants postgresql://, not SQLAlchemy's postgresql+psycopg://."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def _where(url: str) -> str:
    parsed = make_url(url)
    return f"{parsed.host or 'localhost'}:{parsed.port or 5432}"


@contextmanager
def throwaway_postgres(admin_url: str = ADMIN_URL) -> Iterator[str]:
    """Create `mb_test_<random>`, yield its URL, drop it; pytest.skip if the server does not answer."""
    try:
        admin = psycopg.connect(_conninfo(admin_url), autocommit=True, connect_timeout=2)
    except psycopg.OperationalError as e:
        reason = f"PostgreSQL not reachable at {_where(admin_url)} ({str(e).strip().splitlines()[0]})"
        if os.environ.get("MAILBEACON_REQUIRE_POSTGRES"):
            pytest.fail(reason + "; MAILBEACON_REQUIRE_POSTGRES is set (CI), so this is a failure")
        pytest.skip(reason)
    name = f"mb_test_{secrets.token_hex(4)}"
    try:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    finally:
        admin.close()
    try:
        yield make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    finally:
        # A fresh connection: a test may have restarted the server since (tests/web/test_durability.py).
        for _ in range(30):
            try:
                with psycopg.connect(_conninfo(admin_url), autocommit=True, connect_timeout=2) as dropper:
                    dropper.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
                break
            except psycopg.OperationalError:
                time.sleep(1)


@contextmanager
def fresh_schema(database_url: str) -> Iterator[str]:
    """A new empty schema in `database_url`, as the URL's search_path; dropped afterwards.

    Much cheaper than a database per test, and just as isolated for unqualified names.
    """
    schema = f"t_{secrets.token_hex(6)}"
    with psycopg.connect(_conninfo(database_url), autocommit=True, connect_timeout=2) as conn:
        conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
    try:
        yield make_url(database_url).update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(
            hide_password=False
        )
    finally:
        with psycopg.connect(_conninfo(database_url), autocommit=True, connect_timeout=2) as conn:
            conn.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(schema)))
