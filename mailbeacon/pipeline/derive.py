"""The classify reader's step: a verdict per event, counters per delivery, message and link.

Pure over its `Batch`: the store runs it inside the transaction that also
moves the cursor, so what it derives and where it stopped are one fact.
"""

from __future__ import annotations

from dataclasses import fields

from mailbeacon.classify import COUNTED_AS_HUMAN, Memory, Policy, Seen, judge, make_hit
from mailbeacon.store import Batch, Counters, DeliveryActivity, LinkActivity, MessageActivity, Verdict

READER = "classify"


def derive(batch: Batch, policy: Policy) -> list[Verdict]:
    verdicts: dict[int, Verdict] = {}
    memories: dict[bytes, Memory] = {}
    for event in batch.events:
        key = event.delivery_key
        facts = batch.facts[key]
        activity = batch.deliveries.setdefault(key, DeliveryActivity())
        memory = memories.get(key)
        if memory is None:
            memory = memories[key] = Memory.from_json(activity.memory)
        before = _snapshot(activity)
        flags_before = _flags(activity)
        hit = make_hit(event.id, event.type, event.occurred_at, event.ip, event.user_agent, event.method,
                       event.link_idx)
        judgement = judge(
            hit, memory, policy,
            accepted_at=facts.accepted_at, sent_at=facts.sent_at, submitted_from=facts.submitted_from,
        )
        link = _link(batch, facts.message_id, event.link_idx)
        first = (activity.raw_opens if event.type == "open" else activity.raw_clicks) == 0
        notice, gap = _notice(activity, event.type, judgement.cls, event.occurred_at)
        _count(activity, link, event.type, judgement.cls, +1, raw=True)
        if event.type == "open":
            activity.first_open_at = activity.first_open_at or event.occurred_at
            activity.last_open_at = event.occurred_at
            if judgement.cls in COUNTED_AS_HUMAN:
                activity.first_human_open_at = activity.first_human_open_at or event.occurred_at
                activity.last_human_open_at = event.occurred_at
        elif judgement.cls in COUNTED_AS_HUMAN and activity.human_opens == 0 and activity.inferred_open_at is None:
            activity.inferred_open_at = event.occurred_at  # a person clicked, so they read it: images were off
        verdicts[event.id] = Verdict(
            event.id, judgement.cls, judgement.reasons, hit.client.label, first, notice=notice, gap=gap
        )
        for revision in judgement.revisions:
            seen = revision.seen
            _revise(batch, activity, memory, facts.message_id, seen, revision.old_cls)
            reasons = tuple(seen.reasons)
            earlier = verdicts.get(seen.id)
            notice = _revised_notice(earlier.notice if earlier else None, seen)
            if earlier is not None and not earlier.revision:  # judged in this very batch
                verdicts[seen.id] = Verdict(
                    seen.id, seen.cls, reasons, earlier.client, earlier.first, notice=notice, gap=earlier.gap
                )
            else:
                verdicts[seen.id] = Verdict(seen.id, seen.cls, reasons, None, None, revision=True, notice=notice)
        if facts.message_id is not None:
            message = batch.messages.setdefault(facts.message_id, MessageActivity())
            after = _snapshot(activity)
            for name, value in after.items():
                setattr(message, name, getattr(message, name) + value - before[name])
            for name, was, now in zip(_FLAG_NAMES, flags_before, _flags(activity)):
                setattr(message, name, getattr(message, name) + int(now) - int(was))
    for key, memory in memories.items():
        batch.deliveries[key].memory = memory.to_json()
    return list(verdicts.values())


_COUNTER_NAMES = [f.name for f in fields(Counters)]
_FLAG_NAMES = ["unique_opens", "unique_human_opens", "unique_clicks", "unique_human_clicks", "inferred_opens"]


def _snapshot(activity: DeliveryActivity) -> dict[str, int]:
    return {name: getattr(activity, name) for name in _COUNTER_NAMES}


def _flags(activity: DeliveryActivity) -> tuple[bool, ...]:
    return (
        activity.raw_opens > 0,
        activity.human_opens > 0,
        activity.raw_clicks > 0,
        activity.human_clicks > 0,
        activity.inferred_open_at is not None and activity.human_opens == 0,
    )


def _notice(activity: DeliveryActivity, kind: str, cls: str, at: float) -> tuple[str | None, float | None]:
    """What a person is told of this event, before it is counted; machine and sender events: nothing.

    A possible forward is told as such, never as "opened again"; whether a later open
    is worth telling (the quiet period) is each user's rule, so the gap goes with it.
    """
    if cls not in COUNTED_AS_HUMAN:
        return None, None
    if kind == "click":
        return ("forward" if cls == "suspect_forward" else "click"), None
    gap = None if activity.last_human_open_at is None else max(0.0, at - activity.last_human_open_at)
    if cls == "suspect_forward":
        return "forward", gap
    return ("first_open" if activity.first_human_open_at is None else "open"), gap


def _revised_notice(before: str | None, seen: Seen) -> str | None:
    if seen.cls not in COUNTED_AS_HUMAN:
        return None
    if seen.cls == "suspect_forward":
        return "forward"
    if before in ("first_open", "open", "click"):
        return before
    return "click" if seen.kind == "click" else "open"


def _link(batch: Batch, message_id: int | None, link_idx: int | None) -> LinkActivity | None:
    if message_id is None or link_idx is None:
        return None
    return batch.links.setdefault((message_id, link_idx), LinkActivity())


def _count(
    activity: DeliveryActivity, link: LinkActivity | None, kind: str, cls: str, step: int, *, raw: bool
) -> None:
    noun = "opens" if kind == "open" else "clicks"
    if raw:
        setattr(activity, f"raw_{noun}", getattr(activity, f"raw_{noun}") + step)
        if link is not None and kind == "click":
            link.raw_clicks += step
    if cls in COUNTED_AS_HUMAN:
        setattr(activity, f"human_{noun}", getattr(activity, f"human_{noun}") + step)
        if link is not None and kind == "click":
            link.human_clicks += step
    elif cls == "machine":
        setattr(activity, f"machine_{noun}", getattr(activity, f"machine_{noun}") + step)


def _revise(
    batch: Batch, activity: DeliveryActivity, memory: Memory, message_id: int | None, seen: Seen, old: str
) -> None:
    """Move an earlier event from the class it was counted in (`old`) to the one it now has."""
    link = _link(batch, message_id, seen.link)
    _count(activity, link, seen.kind, old, -1, raw=False)
    _count(activity, link, seen.kind, seen.cls, +1, raw=False)
    if seen.kind == "open":
        human_opens = [s.at for s in memory.seen if s.kind == "open" and s.cls in COUNTED_AS_HUMAN]
        activity.last_human_open_at = max(human_opens) if human_opens else None
    if seen.kind == "open" and activity.human_opens == 0:
        activity.first_human_open_at = None
    elif seen.kind == "open" and activity.first_human_open_at == seen.at:
        human = [s.at for s in memory.seen if s.kind == "open" and s.cls in COUNTED_AS_HUMAN]
        activity.first_human_open_at = min(human) if human else None
    if seen.kind == "click" and activity.human_clicks == 0:
        activity.inferred_open_at = None
