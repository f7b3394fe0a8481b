"""The wallboard's figures, per queue and per center, and its agents grid, kept current from the
event feed: events in, figures out, nothing read from the database after the start.

Definitions (the center's day, Asia/Shanghai; a wait is counted the day it ends):
- waiting: callers in the queue who have no agent yet (a ringing agent does not end the wait);
- answered: waits an agent answered, counted at the answer, by the queue and the center where
  the caller entered; an overflowed call also counts as overflow-out there and overflow-in at
  the answering agent's center;
- abandoned: the caller hung up while waiting, after `short_abandon` seconds at least (the
  setting HOTLINE_SHORT_ABANDON_SECONDS, the statistics' threshold too); shorter ones are
  short abandons, counted apart;
- offered: answered + abandoned + callbacks + messages + no agents (waits the platform ended,
  shutdown, restarts, lost media, are counted apart as `platform_ended`, never as abandons);
- 人工接通率 (answer_rate) = answered / offered;
- service level = answered within T / (answered + abandoned after T), T per queue.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, field, fields
from datetime import date, datetime
from typing import Any, Literal

from app.acd.routing import RoutingRules, Threshold
from app.acd.waiting import AgentConnected, AgentRinging
from app.core.clock import CST
from app.events import (
    AgentMonitored,
    AgentStateChanged,
    PlatformEvent,
    QueueJoined,
    QueueLeft,
)

Level = Literal["ok", "warn", "alert"]
PLATFORM_ENDED = frozenset({"ended_by_platform", "platform_restart", "pbx_restart",
                            "media_timeout"})
OTHER_ENDS = frozenset({"callback", "message", "no_agents"})  # offered, neither answered
UNKNOWN_CENTER = "?"
TIME_DEPENDENT = frozenset({"longest_wait_s", "levels", "level"})


def center_day(moment: float) -> date:
    """The center's calendar day of a moment (epoch seconds)."""
    return datetime.fromtimestamp(moment, CST).date()


def day_start(day: date) -> datetime:
    """Midnight of the center's day, as an aware datetime."""
    return datetime(day.year, day.month, day.day, tzinfo=CST)


@dataclass
class Counters:
    answered: int = 0
    abandoned: int = 0
    short_abandoned: int = 0
    callbacks: int = 0
    other: int = 0  # messages and no agent
    platform_ended: int = 0
    answered_in_t: int = 0
    abandoned_after_t: int = 0
    overflow_in: int = 0
    overflow_out: int = 0

    @property
    def offered(self) -> int:
        return self.answered + self.abandoned + self.callbacks + self.other

    def figures(self) -> dict[str, Any]:
        offered = self.offered
        served = self.answered + self.abandoned_after_t
        return {
            **{f.name: getattr(self, f.name) for f in fields(self)},
            "offered": offered,
            "answer_rate": round(self.answered / offered, 4) if offered else None,
            "service_level": round(self.answered_in_t / served, 4) if served else None,
        }


@dataclass
class Waiting:
    call_id: str
    queue: str
    center: str
    entered_at: float


@dataclass
class AgentRow:
    number: str
    name: str = ""
    center: str = UNKNOWN_CENTER
    state: str = "logged_out"
    reason: str | None = None
    since: float | None = None
    call_id: str | None = None
    queue: str | None = None
    monitored: dict[str, str] | None = None  # {"mode", "by"} while a supervisor listens in

    def as_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


@dataclass(frozen=True)
class Ended:
    """One finished wait, as read back from the database at start."""

    queue: str
    center: str
    result: str
    wait_seconds: float | None
    overflow_to: str | None = None


def level(value: float | None, threshold: Threshold, lower_is_worse: bool) -> Level:
    if value is None:
        return "ok"
    if lower_is_worse:
        return "alert" if value < threshold.alert else "warn" if value < threshold.warn else "ok"
    return "alert" if value >= threshold.alert else "warn" if value >= threshold.warn else "ok"


_RANK: dict[Level, int] = {"ok": 0, "warn": 1, "alert": 2}


@dataclass
class Board:
    rules: RoutingRules
    short_abandon: float  # seconds: HOTLINE_SHORT_ABANDON_SECONDS, as in the statistics
    day: date = field(default_factory=lambda: center_day(time.time()))
    queues: dict[str, Counters] = field(default_factory=dict)
    centers: dict[str, Counters] = field(default_factory=dict)
    waiting: dict[str, Waiting] = field(default_factory=dict)  # by call id
    agents: dict[str, AgentRow] = field(default_factory=dict)
    changed_agents: set[str] = field(default_factory=set)  # since the last delta
    sent: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)  # last tiles sent

    # --- counting -----------------------------------------------------------------------------
    def _roll(self, moment: float) -> None:
        """A new center's day starts every count at zero (waiting callers stay)."""
        day = center_day(moment)
        if day > self.day:
            self.day, self.queues, self.centers = day, {}, {}

    def _both(self, queue: str, center: str) -> tuple[Counters, Counters]:
        return (self.queues.setdefault(queue, Counters()),
                self.centers.setdefault(center, Counters()))

    def _t(self, queue: str) -> float:
        rule = self.rules.queues.get(queue)
        return rule.service_level_seconds if rule else 20.0

    def count_answer(self, queue: str, center: str, wait: float | None,
                     overflow_to: str | None) -> None:
        for c in self._both(queue, center):
            c.answered += 1
            if wait is not None and wait <= self._t(queue):
                c.answered_in_t += 1
        if overflow_to is not None and overflow_to != center:
            self.queues[queue].overflow_out += 1
            self.centers[center].overflow_out += 1
            self.centers.setdefault(overflow_to, Counters()).overflow_in += 1

    def count_end(self, queue: str, center: str, result: str, wait: float | None) -> None:
        """A wait that ended without an agent."""
        for c in self._both(queue, center):
            if result == "abandoned":
                if wait is not None and wait < self.short_abandon:
                    c.short_abandoned += 1
                else:
                    c.abandoned += 1
                    if wait is None or wait > self._t(queue):
                        c.abandoned_after_t += 1
            elif result == "callback":
                c.callbacks += 1
            elif result in OTHER_ENDS:
                c.other += 1
            elif result in PLATFORM_ENDED:
                c.platform_ended += 1

    def seed(self, ended: Iterable[Ended], agents: Iterable[AgentRow]) -> None:
        """Today's finished waits and every agent, read from the database at start."""
        for e in ended:
            if e.result == "connected":
                self.count_answer(e.queue, e.center, e.wait_seconds, e.overflow_to)
            else:
                self.count_end(e.queue, e.center, e.result, e.wait_seconds)
        for row in agents:
            self.agents[row.number] = row

    # --- events -------------------------------------------------------------------------------
    def apply(self, event: PlatformEvent) -> bool:
        """Take one event of the feed into the figures; True when something shown changed."""
        self._roll(event.at)
        if isinstance(event, QueueJoined):
            if event.call_id is None:
                return False
            self.waiting[event.call_id] = Waiting(event.call_id, event.queue,
                                                  event.center or UNKNOWN_CENTER, event.at)
            self._both(event.queue, event.center or UNKNOWN_CENTER)
            return True
        if isinstance(event, QueueLeft):
            return self._left(event)
        if isinstance(event, AgentStateChanged):
            return self._agent_state(event)
        if isinstance(event, AgentMonitored):
            row = self._agent(event.agent)
            row.monitored = {"mode": event.mode, "by": event.supervisor} if event.active \
                else None
            return True
        if isinstance(event, AgentConnected):
            return self._connected(event)
        if isinstance(event, AgentRinging):
            row = self._agent(event.agent)
            row.call_id, row.queue = event.call_id, event.queue
            return True
        return False

    def _left(self, event: QueueLeft) -> bool:
        visit = self.waiting.pop(event.call_id or "", None)
        if event.result == "connected":
            return visit is not None  # counted at the answer (AgentConnected)
        center = event.center or (visit.center if visit else UNKNOWN_CENTER)
        wait = event.wait_seconds
        if wait is None and visit is not None:
            wait = round(event.at - visit.entered_at, 3)
        self.count_end(event.queue, center, event.result, wait)
        return True

    def _connected(self, event: AgentConnected) -> bool:
        agent = self._agent(event.agent)
        queue, overflow_from, wait = event.queue, event.overflow_from, event.wait_seconds
        visit = self.waiting.pop(event.call_id or "", None)
        if wait is None and visit is not None:
            wait = round(event.at - visit.entered_at, 3)
        center = overflow_from or (visit.center if visit else agent.center)
        self.count_answer(queue, center, wait,
                          agent.center if overflow_from is not None else None)
        agent.call_id, agent.queue = event.call_id, queue
        self.changed_agents.add(agent.number)
        return True

    def _agent(self, number: str) -> AgentRow:
        row = self.agents.get(number)
        if row is None:  # made after the start: its name and center come with a refresh
            row = self.agents[number] = AgentRow(number)
        self.changed_agents.add(number)
        return row

    def _agent_state(self, event: AgentStateChanged) -> bool:
        row = self._agent(event.agent)
        if row.state == event.state and row.reason == event.reason:
            return False
        row.state, row.reason, row.since = event.state, event.reason, event.at
        if event.state in ("ringing", "on_call"):
            row.call_id = event.call_id or row.call_id
        elif event.state != "wrap_up":
            row.call_id = row.queue = None
        return True

    # --- views --------------------------------------------------------------------------------
    def _tile(self, key: str, counters: Counters, waiting: list[Waiting],
              now: float) -> dict[str, Any]:
        t = self.rules.wallboard.thresholds
        oldest = min((w.entered_at for w in waiting), default=None)
        longest = round(now - oldest, 1) if oldest is not None else 0.0
        tile = {"key": key, "waiting": len(waiting), "oldest_entered_at": oldest,
                "longest_wait_s": longest, **counters.figures()}
        levels: dict[str, Level] = {
            "waiting": level(len(waiting), t.waiting, False),
            "longest_wait": level(longest, t.longest_wait, False),
            "service_level": level(tile["service_level"], t.service_level, True),
            "answer_rate": level(tile["answer_rate"], t.answer_rate, True),
        }
        tile["levels"] = levels
        tile["level"] = max(levels.values(), key=_RANK.__getitem__)
        return tile

    def tiles(self, now: float | None = None) -> dict[str, list[dict[str, Any]]]:
        now = time.time() if now is None else now
        self._roll(now)
        queues = list(dict.fromkeys([*self.rules.queues, *self.queues]))
        centers = list(dict.fromkeys([*self.rules.centers.names, *self.centers]))
        return {
            "queues": [self._tile(q, self.queues.get(q, Counters()),
                                  [w for w in self.waiting.values() if w.queue == q], now)
                       for q in queues],
            "centers": [self._tile(c, self.centers.get(c, Counters()),
                                   [w for w in self.waiting.values() if w.center == c], now)
                        | {"agents": self._agent_counts(c)}
                        for c in centers],
        }

    def _agent_counts(self, center: str) -> dict[str, int]:
        out: dict[str, int] = {}
        for row in self.agents.values():
            if row.center == center:
                out[row.state] = out.get(row.state, 0) + 1
        return out

    def snapshot(self, now: float | None = None) -> dict[str, Any]:
        now = time.time() if now is None else now
        return {
            "kind": "wall.snapshot", "at": now, "day": self.day.isoformat(),
            "timezone": "Asia/Shanghai",
            "thresholds": self.rules.wallboard.thresholds.model_dump(),
            "short_abandon_seconds": self.short_abandon,
            **self.tiles(now),
            "agents": [self.agents[n].as_dict() for n in sorted(self.agents)],
        }

    def delta(self, now: float | None = None) -> dict[str, Any]:
        """What changed since the last delta: the tiles whose figures changed (the longest
        wait grows by itself: screens count it on from `oldest_entered_at`) and the agents."""
        now = time.time() if now is None else now
        changed = sorted(self.changed_agents)
        self.changed_agents.clear()
        tiles = self.tiles(now)
        out: dict[str, list[dict[str, Any]]] = {}
        for kind, group in tiles.items():
            out[kind] = []
            for tile in group:
                steady = {k: v for k, v in tile.items() if k not in TIME_DEPENDENT}
                if self.sent.get((kind, tile["key"])) != steady:
                    self.sent[(kind, tile["key"])] = steady
                    out[kind].append(tile)
        return {"kind": "wall.update", "at": now, "day": self.day.isoformat(), **out,
                "agents": [self.agents[n].as_dict() for n in changed if n in self.agents]}
