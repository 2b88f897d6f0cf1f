"""Webhook store tests run on SQLite and PostgreSQL, like the store's."""

from tests.store.conftest import postgres_database, store, store_url  # noqa: F401
