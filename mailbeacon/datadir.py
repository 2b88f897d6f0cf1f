"""Opening a data directory: its keys and its migrated store, without the server's modules.

The CLI's commands that only read or change the store start from here, so `mailbeacon dnt
list` does not import the web app, the relay or uvicorn (issue 17: they start in well under
half a second); `mailbeacon.service` builds the server on the same function.
"""

from __future__ import annotations

import logging
from pathlib import Path

from mailbeacon.errors import ConfigError
from mailbeacon.filemodes import private_dir, tighten
from mailbeacon.store import Store, StoreUnavailable, open_store
from mailbeacon.tokens import Keyring

log = logging.getLogger("mailbeacon.service")  # the name its warnings had when they were the server's


def store_url(data_dir: Path, db_url: str | None) -> str:
    """`--db`, or the SQLite file in the data directory."""
    return db_url or f"sqlite:///{(data_dir / 'mailbeacon.db').resolve()}"


def open_data(data_dir: Path, db_url: str | None) -> tuple[Store, Keyring]:
    """Keys and the migrated store of the data directory, made private first (issue #12, item 17)."""
    private_dir(data_dir)
    tightened = tighten(data_dir)
    if tightened.changed or tightened.failed:  # said once: the next start finds nothing to change
        log.warning("%s", tightened.summary(data_dir))
    keyring = Keyring.load_or_create(data_dir)
    url = store_url(data_dir, db_url)
    store = open_store(url)
    try:
        store.migrate()
    except StoreUnavailable as exc:
        store.close()
        raise ConfigError(f"cannot prepare the database at {url}: {exc}") from exc
    return store, keyring
