"""AMI events fanned out to watchers: one AMI connection, any number of engineers' streams,
each receiving only the event types it asked for.

Every event is delivered as a plain dict of its AMI fields with personal numbers masked
(a caller's phone number, a number dialled out). A watcher that reads too slowly loses events
rather than holding the AMI connection back: it is told how many it lost.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from app.services.masking import mask_text

# AMI event names: letters, digits and underscores (Newchannel, DTMFEnd, Agent_Called, ...).
EVENT_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,63}$")
QUEUE_SIZE = 1000  # events a watcher may fall behind before it loses some
# Fields that carry identifiers and clocks, never a person's number: kept as they are.
_IDS = ("uniqueid", "linkedid", "timestamp", "sequencenumber", "privilege", "event")


class BadEventTypes(ValueError):
    """A requested event type is not an AMI event name."""


def parse_types(text: str | None) -> frozenset[str] | None:
    """`Newchannel,Hangup` -> their names in lower case; None or blank: every type."""
    if text is None or not text.strip():
        return None
    names = [t.strip() for t in text.split(",") if t.strip()]
    bad = [n for n in names if not EVENT_NAME.match(n)]
    if bad:
        raise BadEventTypes(
            f"not an AMI event name: {', '.join(bad)} (give names like Newchannel,Hangup)")
    return frozenset(n.lower() for n in names)


def masked_fields(fields: Iterable[tuple[str, Any]]) -> dict[str, str]:
    """An event's fields as text, phone and ID numbers masked except in identifiers."""
    out: dict[str, str] = {}
    for key, value in fields:
        text = str(value)
        out[key] = text if key.lower().endswith(_IDS) else mask_text(text)
    return out


@dataclass(eq=False)
class Watcher:
    """One stream's share of the feed."""

    types: frozenset[str] | None  # lower-case names; None: every event
    queue: asyncio.Queue[dict[str, str]] = field(
        default_factory=lambda: asyncio.Queue(QUEUE_SIZE))
    dropped: int = 0  # events lost since the stream last said so

    def wants(self, name: str) -> bool:
        return self.types is None or name.lower() in self.types

    def offer(self, event: dict[str, str]) -> None:
        try:
            self.queue.put_nowait(event)
        except asyncio.QueueFull:
            self.dropped += 1

    async def next(self, timeout: float) -> dict[str, str] | None:
        """The next event, or None after `timeout` seconds without one."""
        try:
            return await asyncio.wait_for(self.queue.get(), timeout)
        except TimeoutError:
            return None


class AmiEventFeed:
    """Subscribes once to every event of the AMI connection and copies each one to the
    watchers that asked for its type. Nothing is copied, nor masked, while nobody watches."""

    def __init__(self) -> None:
        self.watchers: set[Watcher] = set()

    def attach(self, manager: Any) -> None:
        """Listen on a panoramisk Manager (before or after it connects; it survives reconnects)."""
        manager.register_event("*", self.on_event)

    def watch(self, types: frozenset[str] | None) -> Watcher:
        watcher = Watcher(types)
        self.watchers.add(watcher)
        return watcher

    def leave(self, watcher: Watcher) -> None:
        self.watchers.discard(watcher)

    def on_event(self, manager: Any, message: Mapping[str, Any]) -> None:
        if not self.watchers:
            return
        name = str(message.get("Event", ""))
        interested = [w for w in self.watchers if w.wants(name)]
        if not interested:
            return
        event = masked_fields(message.items())
        for watcher in interested:
            watcher.offer(event)
