"""A campaign report as JSON: the API answers it, `mailbeacon campaign report --json` prints it, the dashboard draws it.

Raw next to human everywhere (raw: every request; human: what the classifier counts as a
person's, proxied opens included). Rates are unique readers over delivered copies (sent,
not bounced or still queued). Everything that came from a tracking request (client names,
URLs) or from a contact (addresses) is passed through as data: JSON escapes it.
"""

from __future__ import annotations

import datetime
import re
from typing import Any

from mailbeacon.classify import COUNTED_AS_HUMAN
from mailbeacon.store import CampaignReport, CampaignSummary, ClientCount
from mailbeacon.views.reports import activity_json

BUCKETS = {"hour": 3600, "day": 86400}
_DETAIL = re.compile(r"^(.*) \(([^()]+)\)$")


def rate(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def iso(ts: float | None) -> str | None:
    """ISO 8601 in UTC with its offset, as the CSV export writes times."""
    if ts is None:
        return None
    return datetime.datetime.fromtimestamp(ts, datetime.UTC).isoformat(timespec="seconds")


def csv_path(campaign_id: int) -> str:
    return f"/api/v1/campaigns/{campaign_id}/recipients.csv"


def status_of(s: CampaignSummary) -> str:
    """The store's status, or paused while a sending or queued campaign is paused (issue #13)."""
    return "paused" if s.paused_at is not None and s.status in ("sending", "queued") else s.status


def summary_json(s: CampaignSummary) -> dict[str, Any]:
    """A campaign's headline: progress, opens and clicks raw and human, rates over delivered copies."""
    a = s.activity
    dealt_with = s.sent + s.bounced + s.skipped + s.withdrawn
    return {
        "id": s.id,
        "name": s.name,
        "subject": s.subject,
        "from": s.from_address,
        "list": {"id": s.list_id, "name": s.list_name},
        "message_id": s.message_id,
        "status": status_of(s),
        "paused_at": s.paused_at,
        "rate_limit": s.rate,
        "created_at": s.created_at,
        "started_at": s.started_at,
        "queued_at": s.queued_at,
        "finished_at": s.finished_at,
        "progress": {
            "total": s.total, "queued": s.queued, "skipped": s.skipped, "sent": s.sent, "bounced": s.bounced,
            "pending": s.pending, "withdrawn": s.withdrawn,
            "done": 1.0 if s.status == "done" else min(1.0, rate(dealt_with, s.total) or 0.0),
        },
        **activity_json(a),
        "rates": {
            "open": rate(a.unique_human_opens, s.sent),
            "open_raw": rate(a.unique_opens, s.sent),
            "click": rate(a.unique_human_clicks, s.sent),
            "click_raw": rate(a.unique_clicks, s.sent),
            "click_to_open": rate(a.unique_human_clicks, a.unique_human_opens + a.inferred_opens),
            "unsubscribe": rate(s.unsubscribes, s.sent),
            "bounce": rate(s.bounced, s.sent + s.bounced),
        },
        "unsubscribes": s.unsubscribes,
    }


def report_json(report: CampaignReport) -> dict[str, Any]:
    """`summary_json` with the timeline, links, clients and devices, untracked copies, unsubscribes and bounces."""
    s = report.summary
    untracked = sum(u.copies for u in report.untracked)
    return {
        **summary_json(s),
        "timeline": {
            "bucket": next((name for name, size in BUCKETS.items() if size == report.bucket), f"{report.bucket}s"),
            "points": timeline_points(report),
        },
        "links": [
            {"idx": link.idx, "url": link.url,
             "clicks": {"raw": link.activity.raw_clicks, "human": link.activity.human_clicks}}
            for link in report.links
        ],
        "clients": clients_json(report.clients),
        "devices": devices_json(report.clients),
        "untrackable": {
            "copies": untracked,
            "share": rate(untracked, s.queued),
            "opens_untracked": sum(u.copies for u in report.untracked if u.opens),
            "reasons": [
                {"reason": u.reason or "not said", "opens_tracked": not u.opens, "copies": u.copies}
                for u in report.untracked
            ],
            "images_blocked": s.activity.inferred_opens,
        },
        "unsubscribed": [
            {"email": u.email, "source": u.source, "at": u.at} for u in report.unsubscribed
        ],
        "bounces": [{"recipient": b.recipient, "reply": b.reply} for b in report.bounces],
        "recipients_csv": csv_path(s.id),
    }


def timeline_points(report: CampaignReport) -> list[dict[str, Any]]:
    points: dict[float, dict[str, dict[str, int]]] = {}
    for t in report.times:
        point = points.setdefault(t.occurred_at, {
            "opens": {"raw": 0, "human": 0, "machine": 0}, "clicks": {"raw": 0, "human": 0, "machine": 0},
        })
        counts = point["opens" if t.type == "open" else "clicks"]
        counts["raw"] += t.count
        if t.cls in COUNTED_AS_HUMAN:
            counts["human"] += t.count
        elif t.cls == "machine":
            counts["machine"] += t.count
    return [{"start": at, "start_iso": iso(at), **point} for at, point in sorted(points.items())]


def clients_json(clients: list[ClientCount]) -> list[dict[str, Any]]:
    """Per client (as the pipeline named it): events, and how many were a person's or a machine's."""
    return _tally(clients, lambda c: c.client or "unknown", "client")


def devices_json(clients: list[ClientCount]) -> list[dict[str, Any]]:
    """Per device: the part of a client's name in parentheses ("Outlook desktop (Windows)": Windows), which
    for a proxy or a machine names what hid the device ("Gmail (image proxy)": image proxy)."""
    return _tally(clients, lambda c: device_of(c.client), "device")


def device_of(client: str | None) -> str:
    found = _DETAIL.match(client or "")
    return found.group(2) if found else client or "unknown"


def _tally(clients: list[ClientCount], name_of: Any, key: str) -> list[dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for c in clients:
        row = found.setdefault(name_of(c), {key: name_of(c), "events": 0, "human": 0, "machine": 0})
        row["events"] += c.events
        if c.cls in COUNTED_AS_HUMAN:
            row["human"] += c.events
        elif c.cls == "machine":
            row["machine"] += c.events
    return sorted(found.values(), key=lambda row: (-row["human"], -row["events"], row[key]))
