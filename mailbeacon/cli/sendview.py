"""What `mailbeacon campaign send` shows while it queues and waits: rich progress bars, and Ctrl-C
that stops between two batches instead of in the middle of one."""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeRemainingColumn

from mailbeacon.campaigns.sending import CampaignSender, Progress as SendProgress
from mailbeacon.store import CampaignProgress, CampaignRow, Store

INTERRUPTED = 130
"""Exit status after Ctrl-C (128 + SIGINT), as shells report it."""
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


def wait_for_delivery(store: Store, campaign: CampaignRow, console: Console, stall: float) -> CampaignProgress:
    """Show sent and bounced copies until none is pending; warn once when nothing moves for `stall` seconds."""
    progress = store.campaign_progress(campaign.id)
    assert progress is not None
    last_change, last_done, warned = time.monotonic(), -1, False
    try:
        with _bar(console) as bars:
            task = bars.add_task("delivered", total=max(progress.queued, 1), rate="")
            while True:
                done = progress.sent + progress.bounced
                bars.update(task, total=max(progress.queued, 1), completed=done,
                            description=f"delivered ({progress.bounced} bounced, {progress.retrying} retrying)")
                bars.update(task, rate=_rate(bars, task))
                if progress.pending == 0:
                    return progress
                if done != last_done:
                    last_change, last_done = time.monotonic(), done
                elif not warned and time.monotonic() - last_change > stall:
                    warned = True
                    bars.console.print(
                        f"nothing delivered for {stall:.0f} s: is `mailbeacon serve` running on this data? Its "
                        "outbound worker delivers the queued copies (Ctrl-C stops waiting; the copies stay queued).",
                        markup=False, highlight=False,
                    )
                time.sleep(POLL)
                found = store.campaign_progress(campaign.id)
                assert found is not None
                progress = found
    except KeyboardInterrupt:
        click.echo(f"stopped waiting; the copies stay queued: mailbeacon campaign status {campaign.name}", err=True)
        raise SystemExit(INTERRUPTED) from None
