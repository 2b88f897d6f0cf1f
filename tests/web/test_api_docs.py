"""GET /api/docs (issue #13, item 11): the vendored Redoc, its licence and version, and the page's own CSP.

Against a real `mailbeacon serve`: the page loads only its own origin's script, allows inline
styles by a nonce fresh on every response (no 'unsafe-inline'), and the bundle served is the
one scripts/fetch-redoc recorded in static/redoc/VERSION.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from selectolax.lexbor import LexborHTMLParser as HTMLParser

import mailbeacon.web
from tests.support.dashboard import add_user, logged_in
from tests.support.servers import Server, running_server

REDOC = Path(mailbeacon.web.__file__).parent / "static" / "redoc"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    data = tmp_path_factory.mktemp("api-docs") / "data"
    add_user(data, "ann@example.com", "--seat", "sales")
    with running_server(data) as running:
        yield running


def test_the_docs_page_runs_only_the_vendored_viewer_under_a_nonce_csp(server: Server) -> None:
    pages = [httpx.get(f"{server.url}/api/docs", timeout=10) for _ in range(2)]
    nonces = []
    for page in pages:
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        csp = page.headers["content-security-policy"]
        tree = HTMLParser(page.text)
        nonce = str(tree.css_first('meta[property="csp-nonce"]').attributes["content"])
        assert f"style-src 'self' 'nonce-{nonce}'" in csp and "unsafe" not in csp
        assert "script-src 'self';" in csp and "font-src 'self' data:" in csp and "object-src 'none'" in csp
        redoc = tree.css_first("redoc")
        assert redoc.attributes["spec-url"] == "/api/v1/openapi.json"
        assert redoc.attributes["disable-telemetry"] == "true"
        assert [s.attributes["src"] for s in tree.css("script")] == ["/static/redoc/redoc.standalone.js"]
        assert all(not s.text().strip() for s in tree.css("script"))  # no inline script
        nonces.append(nonce)
    assert nonces[0] != nonces[1] and len(nonces[0]) >= 22


def test_the_vendored_bundle_is_the_recorded_version_with_its_licence(server: Server) -> None:
    version = (REDOC / "VERSION").read_text()
    recorded = re.search(r"redoc\.standalone\.js sha256 ([0-9a-f]{64})", version)
    assert recorded is not None and version.startswith("redoc 3.0.1 from the npm registry")
    bundle = httpx.get(f"{server.url}/static/redoc/redoc.standalone.js", timeout=10)
    assert bundle.status_code == 200 and "javascript" in bundle.headers["content-type"]
    assert hashlib.sha256(bundle.content).hexdigest() == recorded.group(1)
    assert "Version: 3.0.1" in bundle.text[:300]
    licence = httpx.get(f"{server.url}/static/redoc/LICENSE", timeout=10)
    assert licence.status_code == 200 and "MIT License" in licence.text and "Redocly" in licence.text


def test_the_dashboard_links_the_api_reference(server: Server) -> None:
    with logged_in(server.url, "ann@example.com") as ann:
        assert ann.page("/activity").css_first("a#nav-api-docs").attributes["href"] == "/api/docs"
