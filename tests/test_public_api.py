"""The library surface is explicit: every public name of mailbeacon.instrument is in __all__, and only those."""

from __future__ import annotations

import mailbeacon.instrument as instrument


def test_instrument_exports_exactly_its_public_names() -> None:
    public = {name for name in vars(instrument) if not name.startswith("_")}
    submodules = {"charsets", "headers", "html", "links", "message", "mime", "pixel", "plan", "report", "rewrite", "tracker"}
    assert set(instrument.__all__) == public - submodules - {"annotations"}
    assert all(getattr(instrument, name) is not None for name in instrument.__all__)
