"""Outbound claims of many nodes run side by side on PostgreSQL (issue #17): one skips what another is claiming."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from mailbeacon.store import Store, open_store, schema
from tests.store.test_outbound import queue
from tests.support import databases


@pytest.fixture()
def pg_store(postgres_database: str) -> Iterator[tuple[Store, str]]:
    with databases.fresh_schema(postgres_database) as url, open_store(url) as store:
        store.migrate()
        yield store, url


def test_a_claim_skips_the_copies_another_node_is_claiming_instead_of_waiting(pg_store: tuple[Store, str]) -> None:
    store, url = pg_store
    queue(store, *(f"r{n}@example.org" for n in range(10)))
    engine = sa.create_engine(make_url(url).set(drivername="postgresql+psycopg"))
    try:
        with engine.connect() as other, other.begin():  # another node, its claim of the first four not yet committed
            outbound = schema.outbound
            taken = other.execute(
                sa.select(outbound.c.id).order_by(outbound.c.id).limit(4).with_for_update()
            ).scalars().all()
            started = time.monotonic()
            claimed = store.claim_outbound(20, lease=60)
            assert time.monotonic() - started < 5  # it did not wait for the other transaction (30 s timeout)
            assert len(claimed) == 6 and not {q.id for q in claimed} & set(taken)
    finally:
        engine.dispose()
    assert len(store.claim_outbound(20, lease=60)) == 4  # the other node's never came: free now
