"""GET /api/v1/stream: a user's activity as server-sent events, as the pipeline judges it.

One poller per server process (started by the first subscriber, ended when the
last one leaves) reads the feed after its cursor every half second and hands
each item to the open streams that may see it: a thousand open dashboards cost
one query, not a thousand. Each stream has a bounded queue; one that cannot
keep up is ended with a `reconnect` event instead of growing memory, and its
browser resumes from the last id it got (`Last-Event-ID`, read from the store).

Frames: `id: <event id>`, `event: activity`, `data: <JSON of views.feeditems.item_json>`;
`event: missed` when a resume skips more than MAX_BACKLOG items; `event: reconnect`
as the last frame when the server shuts down or the client is too slow; a
comment every HEARTBEAT seconds keeps proxies from closing an idle stream.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import BaseRoute, Route
from starlette.types import Receive, Scope, Send

from mailbeacon.pipeline import READER
from mailbeacon.store import FeedItem, Store, StoreUnavailable, UserRow
from mailbeacon.web.auth import api_user, error
from mailbeacon.web.context import Web
from mailbeacon.views.feeditems import item_json, notify_for

log = logging.getLogger(__name__)

POLL = 0.5
"""Seconds between the poller's reads of the feed."""
PAGE = 500
HEARTBEAT = 15.0
QUEUE_LIMIT = 1000
"""Items waiting for one stream before it is ended as too slow."""
MAX_BACKLOG = 1000
"""Items a resume sends from the store before it skips ahead to live ones."""
RETRY_MS = 3000
HUB = "live_streams"
"""Key of the process's Hub in `Web.extras`, where /metrics finds it."""
SLOW = "too slow: reconnect to resume from the last id received"
SHUTDOWN = "the server is shutting down: reconnect to resume from the last id received"


@dataclass(frozen=True, slots=True)
class Closing:
    reason: str


@dataclass(eq=False)
class Subscriber:
    user: UserRow
    since: int
    """Items with a greater id come through the queue; a resume reads those up to it from the store."""
    queue: asyncio.Queue[FeedItem | Closing] = field(default_factory=asyncio.Queue)

    def sees(self, item: FeedItem) -> bool:
        return self.user.is_admin or item.user_id == self.user.id


class Hub:
    """The per-process fan-out from one poller of the feed to every open stream."""

    def __init__(
        self, store: Store, stopping: asyncio.Event, poll: float = POLL, page: int = PAGE,
        queue_limit: int = QUEUE_LIMIT,
    ) -> None:
        self._store = store
        self.stopping = stopping
        self._poll = poll
        self._page = page
        self._queue_limit = queue_limit
        self._subscribers: set[Subscriber] = set()
        self._cursor: int | None = None
        self._task: asyncio.Task[None] | None = None

    @property
    def subscribers(self) -> int:
        return len(self._subscribers)

    @property
    def polling(self) -> bool:
        return self._task is not None

    async def subscribe(self, user: UserRow) -> Subscriber:
        """Register a stream; from now on it gets every item it may see (StoreUnavailable: try later)."""
        if self._cursor is None:
            position = await run_in_threadpool(self._store.reader_position, READER)
            if self._cursor is None:
                self._cursor = position
        # No await from here on: the cursor read and the registration are one step of the loop.
        subscriber = Subscriber(user, self._cursor)
        self._subscribers.add(subscriber)
        if self._task is None:
            self._task = asyncio.create_task(self._run())
        return subscriber

    def unsubscribe(self, subscriber: Subscriber) -> None:
        self._subscribers.discard(subscriber)

    async def _run(self) -> None:
        try:
            while self._subscribers and not self.stopping.is_set():
                assert self._cursor is not None
                try:
                    items = await asyncio.to_thread(self._store.feed_after, self._cursor, self._page)
                except StoreUnavailable as exc:
                    log.warning("live stream: store unavailable, retrying: %s", exc)
                    await self._wait(1.0)
                    continue
                if items:
                    self._cursor = items[-1].id
                    self._fan_out(items)
                if len(items) < self._page:
                    await self._wait(self._poll)
        except Exception:  # noqa: BLE001 - never leave streams hanging on a dead poller
            log.exception("live stream: the poller failed; streams are told to reconnect")
            self._close_all(SHUTDOWN)
        finally:
            self._task = None
            if self.stopping.is_set():
                self._close_all(SHUTDOWN)
            if not self._subscribers:
                self._cursor = None  # the next first subscriber starts from "now"

    def _fan_out(self, items: list[FeedItem]) -> None:
        for subscriber in list(self._subscribers):
            for item in items:
                if not subscriber.sees(item):
                    continue
                if subscriber.queue.qsize() >= self._queue_limit:
                    self._subscribers.discard(subscriber)
                    subscriber.queue.put_nowait(Closing(SLOW))
                    break
                subscriber.queue.put_nowait(item)

    def _close_all(self, reason: str) -> None:
        for subscriber in self._subscribers:
            subscriber.queue.put_nowait(Closing(reason))
        self._subscribers.clear()

    async def _wait(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.stopping.wait(), timeout=seconds)


def frame(event: str, data: object, event_id: int | None = None) -> str:
    """One server-sent event; JSON keeps every newline of the data escaped, so it stays one `data:` line."""
    head = f"id: {event_id}\n" if event_id is not None else ""
    return f"{head}event: {event}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n"


def activity_frame(item: FeedItem, user: UserRow) -> str:
    return frame("activity", item_json(item, notify_for(item, user.id, user)), item.id)


async def frames(
    hub: Hub, store: Store, subscriber: Subscriber, resume_after: int | None, heartbeat: float = HEARTBEAT,
    max_backlog: int = MAX_BACKLOG,
) -> AsyncIterator[str]:
    """The stream's text: the missed items a resume asks for, then live items, heartbeats, a last word."""
    user = subscriber.user
    # A fresh stream names its starting point, so even a reconnect before any item resumes without a gap.
    yield f"retry: {RETRY_MS}\n" + (f"id: {subscriber.since}\n" if resume_after is None else "") + "\n"
    last = subscriber.since if resume_after is None else resume_after
    sent = 0
    while last < subscriber.since:
        page = await run_in_threadpool(store.feed_after, last, PAGE, None if user.is_admin else [user.id])
        page = [item for item in page if item.id <= subscriber.since]
        if not page:
            break
        for item in page[: max_backlog - sent]:
            yield activity_frame(item, user)
            last = item.id
        sent += len(page)
        if sent >= max_backlog:
            missed = {"after": last, "until": subscriber.since, "reason": "more missed items than a resume sends"}
            yield frame("missed", missed, subscriber.since)
            break
    last = max(last, subscriber.since)
    while True:
        got = await _next(subscriber, hub.stopping, heartbeat)
        if got is None:
            yield ": keep-alive\n\n"
        elif isinstance(got, Closing):
            yield frame("reconnect", {"reason": got.reason})
            return
        elif got.id > last:
            yield activity_frame(got, user)
            last = got.id


async def _next(subscriber: Subscriber, stopping: asyncio.Event, timeout: float) -> FeedItem | Closing | None:
    """The next queued item, Closing when the server stops, None after `timeout` seconds of quiet."""
    if not subscriber.queue.empty():
        return subscriber.queue.get_nowait()
    get = asyncio.ensure_future(subscriber.queue.get())
    stop = asyncio.ensure_future(stopping.wait())
    done, pending = await asyncio.wait({get, stop}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    for task in pending:
        task.cancel()
    if get in done:
        return get.result()
    return Closing(SHUTDOWN) if stop in done else None


class EventStream(StreamingResponse):
    """A StreamingResponse that always lets go of its subscriber, however the stream ends."""

    def __init__(self, content: AsyncIterator[str], release: Callable[[], None]) -> None:
        super().__init__(
            content,
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )
        self._content = content
        self._release = release

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            self._release()
            aclose = getattr(self._content, "aclose", None)
            if aclose is not None:
                await aclose()


def resume_point(request: Request) -> int | None | JSONResponse:
    """Last-Event-ID (a reconnecting EventSource) wins over ?after= (the first connection)."""
    raw = request.headers.get("last-event-id") or request.query_params.get("after")
    if raw is None or raw == "":
        return None
    try:
        value = int(raw)
    except ValueError:
        value = -1
    if not 0 <= value < 2**63:
        return error(400, "after (or Last-Event-ID) must be an event id, 0..2**63-1")
    return value


def routes(web: Web) -> list[BaseRoute]:
    store = web.store
    hub = Hub(store, web.stopping)
    web.extras[HUB] = hub

    async def stream(request: Request) -> Response:
        user = await api_user(request, store)
        if isinstance(user, JSONResponse):
            return user
        resume = resume_point(request)
        if isinstance(resume, JSONResponse):
            return resume
        if hub.stopping.is_set():
            return error(503, "the server is shutting down; reconnect")
        try:
            subscriber = await hub.subscribe(user)
        except StoreUnavailable:
            return error(503, "the store is unavailable; reconnect later")
        return EventStream(frames(hub, store, subscriber, resume), lambda: hub.unsubscribe(subscriber))

    return [Route("/api/v1/stream", stream)]
