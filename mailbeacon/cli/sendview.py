"""What `mailbeacon campaign send` shows while it queues and waits: rich progress bars, Ctrl-C that
stops between two batches instead of in the middle of one, and copies waiting for a retry told
apart from a server that delivers nothing (issue #13)."""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from types import FrameType

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeRemainingColumn

from mailbeacon.campaigns.sending import CampaignSender, Progress as SendProgress
from mailbeacon.store import CampaignProgress, CampaignRow, Store
from mailbeacon.wording import many

INTERRUPTED = 130
"""Exit status after Ctrl-C (128 + SIGINT), as shells report it."""
PAUSED = 3
"""Exit status when the campaign was paused (from anywhere) while this command queued or waited."""
CANCELLED = 4
"""Exit status when the campaign was cancelled meanwhile."""
RETRYING = 75
"""Exit status of --wait when only copies waiting for a retry are left (sysexits' EX_TEMPFAIL: try later)."""
POLL = 0.5
"""Seconds between two looks at the delivery counts while waiting."""


class StopRequest:
    """Set by the first Ctrl-C (or SIGTERM); a second Ctrl-C interrupts at once (the open batch is rolled back)."""

    def __init__(self) -> None:
        self.requested = False

    def __call__(self) -> bool:
        return self.requested

    @contextmanager
    def installed(self) -> Iterator[StopRequest]:
        def first(signum: int, frame: FrameType | None) -> None:
            self.requested = True
            signal.signal(signal.SIGINT, signal.default_int_handler)

        previous = signal.signal(signal.SIGINT, first), signal.signal(signal.SIGTERM, first)
        try:
            yield self
        finally:
            signal.signal(signal.SIGINT, previous[0])
            signal.signal(signal.SIGTERM, previous[1])


def _bar(console: Console) -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]}"),
        TimeRemainingColumn(),
        console=console,
        transient=False,
    )


def _rate(progress: Progress, task: TaskID) -> str:
    speed = progress.tasks[task].speed
    return f"{speed:,.0f}/s" if speed else ""


def queue_with_progress(sender: CampaignSender, campaign: CampaignRow, console: Console) -> SendProgress:
    """Run the sender with a bar of members queued or skipped; returns where it stopped."""
    stop = StopRequest()
    with stop.installed(), _bar(console) as bars:
        task = bars.add_task("queueing", total=max(campaign.total, 1), completed=campaign.queued + campaign.skipped,
                             rate="")

        def shown(progress: SendProgress) -> None:
            bars.update(task, total=max(progress.total, 1), completed=progress.queued + progress.skipped)
            bars.update(task, rate=_rate(bars, task))
            for address, error in progress.errors:
                bars.console.print(f"skipped {address}: {error}", markup=False, highlight=False)
            progress.errors.clear()

        result = sender.run(stop, shown)
    return result


@dataclass(frozen=True, slots=True)
class Waited:
    """How waiting for delivery ended."""

    progress: CampaignProgress
    ending: str
    """delivered (no copy pending), retrying (only copies waiting for a retry are left), paused, cancelled."""


def copies(n: int) -> str:
    return many(n, "copy")


def at(timestamp: float) -> str:
    """A time of today in the terminal's zone (14:05:09), with the day when it is not today."""
    moment = time.localtime(timestamp)
    same_day = time.strftime("%Y-%m-%d", moment) == time.strftime("%Y-%m-%d", time.localtime())
    return time.strftime("%H:%M:%S" if same_day else "%Y-%m-%d %H:%M:%S", moment)


def retry_note(progress: CampaignProgress) -> str:
    """"1 copy waiting for a retry at 14:05:09 (451 4.3.0 ...)" (issue #13)."""
    note = f"{copies(progress.retrying)} waiting for a retry"
    if progress.next_retry_at is not None:
        note += f" at {at(progress.next_retry_at)}" if progress.next_retry_at > time.time() else " (due now)"
    if progress.retry_reply:
        note += f" ({progress.retry_reply})"
    return note


def wait_for_delivery(store: Store, campaign: CampaignRow, console: Console, stall: float) -> Waited:
    """Show sent and bounced copies until none is pending, or only copies waiting for a retry are (they go
    out at their time, which may be hours away), or the campaign is paused or cancelled.

    Copies waiting for their time (a retry, the campaign's rate) are not a stall: only when a copy has been
    due for `stall` seconds and nothing was delivered meanwhile does it ask whether `mailbeacon serve` runs."""
    progress = store.campaign_progress(campaign.id)
    assert progress is not None
    last_change, last_done, warned, retrying = time.monotonic(), -1, False, 0
    try:
        with _bar(console) as bars:
            task = bars.add_task("delivered", total=max(progress.queued, 1), rate="")
            while True:
                done = progress.sent + progress.bounced
                waiting = f", {progress.retrying} waiting for a retry" if progress.retrying else ""
                bars.update(task, total=max(progress.queued, 1), completed=done,
                            description=f"delivered ({progress.bounced} bounced{waiting})")
                bars.update(task, rate=_rate(bars, task))
                if progress.campaign.status == "cancelled":
                    return Waited(progress, "cancelled")
                if progress.campaign.paused_at is not None:
                    return Waited(progress, "paused")
                if progress.pending == 0:
                    return Waited(progress, "delivered")
                if progress.pending == progress.retrying:
                    return Waited(progress, "retrying")
                if progress.retrying > retrying:
                    bars.console.print(retry_note(progress), markup=False, highlight=False, soft_wrap=True)
                retrying = progress.retrying
                overdue = progress.oldest_due is not None and time.time() - progress.oldest_due > stall
                if done != last_done or not overdue:  # copies waiting for their time are no stall
                    last_change, last_done = time.monotonic(), done
                elif not warned and time.monotonic() - last_change > stall:
                    warned = True
                    bars.console.print(
                        f"nothing delivered for {stall:.0f} s though copies were due to leave: is "
                        "`mailbeacon serve` running on this data? Its outbound worker delivers the queued copies "
                        "(Ctrl-C stops waiting; the copies stay queued).",
                        markup=False, highlight=False, soft_wrap=True,
                    )
                time.sleep(POLL)
                found = store.campaign_progress(campaign.id)
                assert found is not None
                progress = found
    except KeyboardInterrupt:
        click.echo(f"stopped waiting; the copies stay queued: mailbeacon campaign status {campaign.name}", err=True)
        raise SystemExit(INTERRUPTED) from None
