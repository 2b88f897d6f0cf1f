"""The OpenAPI document and the app cannot drift: every /api/v1 route is described, and nothing else is.

The app is the one `mailbeacon serve` builds (`service.build_app`), not a copy of its route table.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from openapi_spec_validator import validate
from starlette.applications import Starlette

from mailbeacon.service import Settings, build_app
from mailbeacon.web.openapi import PATHS, document, registered_operations


def starlette_of(app: Any) -> Starlette:
    """The Starlette behind `create_app`'s hot-path dispatcher (held in its closure)."""
    found = [cell.cell_contents for cell in app.__closure__ or () if isinstance(cell.cell_contents, Starlette)]
    assert len(found) == 1, "create_app no longer wraps one Starlette app: update this test"
    return found[0]


def test_every_api_route_is_documented_and_every_documented_route_exists(tmp_path: Path) -> None:
    app, _, store = build_app(Settings(data_dir=tmp_path / "data"), worker=1)
    try:
        registered = registered_operations(list(starlette_of(app).routes))
    finally:
        store.close()
    documented = {(path, method.upper()) for path, operations in PATHS.items() for method in operations}
    assert sorted(registered - documented) == [], "routes the OpenAPI document (web/openapi.py) lacks"
    assert sorted(documented - registered) == [], "documented routes the app does not have"
    assert ("/api/v1/messages", "POST") in registered and ("/api/v1/feed", "GET") in registered


def test_the_whole_document_is_valid_openapi_3_1() -> None:
    validate(document())
    served = document({("/api/v1/feed", "GET")})
    assert list(served["paths"]) == ["/api/v1/feed"] and list(served["paths"]["/api/v1/feed"]) == ["get"]
    validate(served)
