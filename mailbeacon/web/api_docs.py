"""GET /api/docs: the API reference, drawn in the browser from /api/v1/openapi.json by Redoc (issue #13, item 11).

Redoc's standalone bundle is vendored in static/redoc/ (scripts/fetch-redoc, version in its
VERSION file) and runs same-origin like the dashboard's own script. Its one need beyond the
dashboard's CSP, on this page only: it injects its styles as <style> elements
(styled-components), allowed by a nonce fresh on every response that it reads from the
`csp-nonce` meta tag, and it inlines its fonts as data: URLs. No inline script, no worker, no
blob, nothing from another host (its telemetry is switched off, and would be refused anyway).
"""

from __future__ import annotations

import secrets

import jinja2
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import BaseRoute, Route

from mailbeacon.web.context import Web
from mailbeacon.web.dashboard.pages import CSP, SECURITY_HEADERS
from mailbeacon.web.openapi import OPENAPI_PATH

DOCS_PATH = "/api/docs"


def docs_csp(nonce: str) -> str:
    """The dashboard's CSP with Redoc's styles (by nonce) and data: fonts allowed."""
    return CSP.replace("style-src 'self'", f"style-src 'self' 'nonce-{nonce}'") + "; font-src 'self' data:"


def routes(web: Web) -> list[BaseRoute]:
    page = jinja2.Environment(
        loader=jinja2.PackageLoader("mailbeacon.web", "templates"), autoescape=True,
        undefined=jinja2.StrictUndefined,
    ).get_template("api_docs.html")

    async def docs(request: Request) -> Response:
        nonce = secrets.token_urlsafe(18)
        return HTMLResponse(page.render(nonce=nonce, spec_url=OPENAPI_PATH), headers={
            **SECURITY_HEADERS,
            "Content-Security-Policy": docs_csp(nonce),
            "Cache-Control": "no-store",  # the nonce is this response's alone
        })

    return [Route(DOCS_PATH, docs, methods=["GET"])]
