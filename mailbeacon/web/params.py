"""Query parameters of the JSON API's read endpoints, checked once: a bad one is a 400 that names it.

Unknown parameters are refused too, so a misspelt filter (`recipent=`) is an error, not a silently
unfiltered list. `api_reader` wraps a handler with authentication and these translations.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
from collections.abc import Awaitable, Callable, Collection
from datetime import datetime, timezone

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from mailbeacon.store import Store, StoreUnavailable, UserRow
from mailbeacon.web.auth import api_user, error

MAX_ID = 2**63 - 1
"""Ids and cursors are 64-bit in both databases; a larger number is refused, not bound."""


class BadParameter(ValueError):
    """A query parameter the API cannot use; the message names it and says what it accepts."""


class Params:
    def __init__(self, request: Request, allowed: Collection[str]) -> None:
        self._query = request.query_params
        unknown = sorted(set(self._query) - set(allowed))
        if unknown:
            known = ", ".join(sorted(allowed)) or "none"
            raise BadParameter(f"unknown parameter {unknown[0]}: this endpoint takes {known}")

    def text(self, name: str) -> str | None:
        values = self._query.getlist(name)
        if len(values) > 1:
            raise BadParameter(f"{name}: given {len(values)} times, give it once")
        if not values:
            return None
        if not values[0]:
            raise BadParameter(f"{name}: empty; leave it out instead")
        return values[0]

    def integer(self, name: str, low: int = 1, high: int = MAX_ID) -> int | None:
        value = self.text(name)
        if value is None:
            return None
        if len(value) > 20 or not re.fullmatch(r"-?[0-9]+", value):
            raise BadParameter(f"{name}: must be a whole number, got {_shown(value)}")
        number = int(value)
        if not low <= number <= high:
            raise BadParameter(f"{name}: must be {low}..{high}, got {number}")
        return number

    def limit(self, default: int, high: int) -> int:
        found = self.integer("limit", 1, high)
        return default if found is None else found

    def boolean(self, name: str) -> bool | None:
        value = self.text(name)
        if value is None:
            return None
        if value.lower() not in ("true", "false"):
            raise BadParameter(f"{name}: must be true or false, got {_shown(value)}")
        return value.lower() == "true"

    def choice(self, name: str, options: Collection[str], default: str | None = None) -> str | None:
        value = self.text(name)
        if value is None:
            return default
        if value not in options:
            raise BadParameter(f"{name}: must be one of {', '.join(options)}, got {_shown(value)}")
        return value

    def time(self, name: str) -> float | None:
        """Unix seconds (`1714557600`, `1714557600.5`) or ISO 8601 (`2024-05-01T10:00:00Z`; no zone: UTC)."""
        value = self.text(name)
        if value is None:
            return None
        try:
            seconds = float(value)
        except ValueError:
            try:
                moment = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
            except ValueError:
                raise BadParameter(f"{name}: must be unix seconds or ISO 8601, got {_shown(value)}") from None
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=timezone.utc)
            seconds = moment.timestamp()
        if not math.isfinite(seconds):
            raise BadParameter(f"{name}: must be a finite time, got {_shown(value)}")
        return seconds

    def cursor(self, kind: str) -> list[object] | None:
        """The `cursor` parameter: a token an earlier page of the same list (`kind`) gave as `next`."""
        value = self.text("cursor")
        if value is None:
            return None
        try:
            decoded = json.loads(base64.urlsafe_b64decode(value.encode("ascii") + b"=" * (-len(value) % 4)))
        except (UnicodeEncodeError, binascii.Error, ValueError):
            decoded = None
        if not isinstance(decoded, list) or not decoded or decoded[0] != kind:
            raise BadParameter("cursor: not a cursor of this list; pass the `next` of the previous page")
        return decoded[1:]


def _shown(value: str) -> str:
    return repr(value if len(value) <= 40 else value[:40] + "...")


def make_cursor(kind: str, *parts: object) -> str:
    """An opaque page token; `Params.cursor(kind)` gives `parts` back."""
    return base64.urlsafe_b64encode(json.dumps([kind, *parts]).encode()).decode("ascii").rstrip("=")


Handler = Callable[[Request, UserRow], Awaitable[Response]]


def api_reader(path: str, store: Store, handler: Handler) -> Route:
    """GET `path` for a signed-in user (Bearer key or session); BadParameter -> 400, a busy store -> 503."""

    async def endpoint(request: Request) -> Response:
        user = await api_user(request, store)
        if isinstance(user, JSONResponse):
            return user
        try:
            return await handler(request, user)
        except BadParameter as exc:
            return error(400, str(exc))
        except StoreUnavailable:
            return error(503, "the database cannot answer now; retry")

    return Route(path, endpoint, methods=["GET"])


def owner(user: UserRow) -> int | None:
    """Whose rows the user may read: their own, or everyone's (None) for an admin."""
    return None if user.is_admin else user.id
