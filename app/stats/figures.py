"""The figures of a report row, from the facts (definitions: docs/statistics.md)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from app.db.models import AgentStateName, CallOutcome, OfferKind, QueueResult
from app.stats.facts import PLATFORM_OUTCOMES, PLATFORM_RESULTS, AgentTime, CallFact, Offer

BUSY_STATES = (AgentStateName.RINGING, AgentStateName.ON_CALL, AgentStateName.WRAP_UP)
# The keys of every row and of the totals, in the order tables and CSV files show them.
FIGURES = (
    "offered", "answered", "abandoned", "short_abandoned", "answer_rate", "service_level",
    "asa_s", "aht_s", "answered_within_t", "abandoned_after_t", "callbacks_requested",
    "callback_offers", "callbacks_answered", "overflow_in", "overflow_out", "messages",
    "no_agents", "platform_ended", "login_s", "ready_s", "paused_s", "pause_by_reason",
    "occupancy", "calls", "self_service", "ivr_completion_rate", "speech_share",
    "confirmation_rate", "calls_platform_ended",
)


@dataclass(frozen=True)
class Rules:
    """What a report needs to know beyond the records: T per queue, the short-abandon limit."""

    short_abandon: float = 5.0
    service_level_seconds: dict[str, float] = field(default_factory=dict)
    default_t: float = 20.0

    def t(self, queue: str) -> float:
        return self.service_level_seconds.get(queue, self.default_t)


def _ratio(part: float, whole: float, digits: int = 4) -> float | None:
    return round(part / whole, digits) if whole else None


@dataclass
class Tally:
    """Running sums for one row."""

    offered: int = 0
    answered: int = 0
    abandoned: int = 0
    short_abandoned: int = 0
    answered_within_t: int = 0
    abandoned_after_t: int = 0
    live_answered: int = 0
    wait_answered: float = 0.0
    handled: int = 0
    handle: float = 0.0
    callbacks_requested: int = 0
    callback_offers: int = 0
    callbacks_answered: int = 0
    overflow_in: int = 0
    overflow_out: int = 0
    messages: int = 0
    no_agents: int = 0
    platform_ended: int = 0
    agents_seen: bool = False
    states: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    pauses: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    calls_seen: bool = False
    calls: int = 0
    self_service: int = 0
    choices: int = 0
    spoken_choices: int = 0
    intents_heard: int = 0
    confirmations: int = 0
    calls_platform_ended: int = 0

    def add_offer(self, offer: Offer, rules: Rules, *, overflow_in_only: bool = False) -> None:
        if overflow_in_only:  # this row is the center that took an overflowed call
            self.overflow_in += 1
            return
        result = offer.result
        if result in PLATFORM_RESULTS:
            self.platform_ended += 1
            return
        if result == QueueResult.ABANDONED and offer.wait < rules.short_abandon:
            self.short_abandoned += 1
            return
        self.offered += 1
        t = rules.t(offer.queue)
        live = offer.kind == OfferKind.LIVE
        if not live:
            self.callback_offers += 1
        if offer.overflow_to is not None:
            self.overflow_out += 1
        if result == QueueResult.CONNECTED:
            self.answered += 1
            if live:
                self.live_answered += 1
                self.wait_answered += offer.wait
                if offer.wait <= t:
                    self.answered_within_t += 1
            else:
                self.callbacks_answered += 1
            if offer.handle is not None:
                self.handled += 1
                self.handle += offer.handle
        elif result == QueueResult.ABANDONED:
            self.abandoned += 1
            if offer.wait > t:
                self.abandoned_after_t += 1
        elif result == QueueResult.CALLBACK:
            self.callbacks_requested += 1
        elif result == QueueResult.MESSAGE:
            self.messages += 1
        elif result == QueueResult.NO_AGENTS:
            self.no_agents += 1

    def add_agent_time(self, time: AgentTime) -> None:
        self.agents_seen = True
        for state, seconds in time.states.items():
            self.states[state] += seconds
        for reason, seconds in time.pauses.items():
            self.pauses[reason] += seconds

    def add_call(self, call: CallFact) -> None:
        self.calls_seen = True
        if call.outcome in PLATFORM_OUTCOMES:
            self.calls_platform_ended += 1
            return
        self.calls += 1
        self.self_service += call.outcome == CallOutcome.SELF_SERVICE
        self.choices += call.choices
        self.spoken_choices += call.spoken_choices
        self.intents_heard += call.intents_heard
        self.confirmations += call.confirmations

    def figures(self) -> dict[str, Any]:
        live_answered_or_late = self.live_answered + self.abandoned_after_t
        out: dict[str, Any] = {
            "offered": self.offered, "answered": self.answered, "abandoned": self.abandoned,
            "short_abandoned": self.short_abandoned,
            "answer_rate": _ratio(self.answered, self.offered),
            "service_level": _ratio(self.answered_within_t, live_answered_or_late),
            "asa_s": _ratio(self.wait_answered, self.live_answered, 3),
            "aht_s": _ratio(self.handle, self.handled, 3),
            "answered_within_t": self.answered_within_t,
            "abandoned_after_t": self.abandoned_after_t,
            "callbacks_requested": self.callbacks_requested,
            "callback_offers": self.callback_offers,
            "callbacks_answered": self.callbacks_answered,
            "overflow_in": self.overflow_in, "overflow_out": self.overflow_out,
            "messages": self.messages, "no_agents": self.no_agents,
            "platform_ended": self.platform_ended,
        }
        if self.agents_seen:
            s = self.states
            busy = sum(s[x.value] for x in BUSY_STATES)
            login = sum(s.values())
            out |= {
                "login_s": round(login, 3), "ready_s": round(s[AgentStateName.READY.value], 3),
                "paused_s": round(s[AgentStateName.PAUSED.value], 3),
                "pause_by_reason": {k: round(v, 3) for k, v in sorted(self.pauses.items())},
                "occupancy": _ratio(busy, busy + s[AgentStateName.READY.value]),
            }
        else:
            out |= dict.fromkeys(("login_s", "ready_s", "paused_s", "pause_by_reason",
                                  "occupancy"))
        if self.calls_seen:
            out |= {
                "calls": self.calls, "self_service": self.self_service,
                "ivr_completion_rate": _ratio(self.self_service, self.calls),
                "speech_share": _ratio(self.spoken_choices, self.choices),
                "confirmation_rate": _ratio(self.confirmations, self.intents_heard),
                "calls_platform_ended": self.calls_platform_ended,
            }
        else:
            out |= dict.fromkeys(("calls", "self_service", "ivr_completion_rate",
                                  "speech_share", "confirmation_rate", "calls_platform_ended"))
        return {k: out[k] for k in FIGURES}


Key = Callable[[Any], str | None]


def tally(period_bucket: Callable[[datetime], datetime], by: str, rules: Rules,
          offers: Iterable[Offer], calls: Iterable[CallFact], agents: Iterable[AgentTime]
          ) -> tuple[dict[tuple[str, datetime], Tally], Tally]:
    """Rows keyed by (key, interval start) and the totals. Which facts a dimension groups:
    queue and center group offers (and, for center, the agents of the center), agent groups
    offers by the agent who answered and each agent's time, ivr groups offers and calls by
    the call's menu branch. `-` collects offers without the key (no agent answered, no
    center known, no menu choice)."""
    rows: dict[tuple[str, datetime], Tally] = defaultdict(Tally)
    total = Tally()
    for offer in offers:
        bucket = period_bucket(offer.entered_at)
        key = {"queue": offer.queue, "center": offer.center, "agent": offer.agent,
               "ivr": offer.branch}[by] or "-"
        rows[key, bucket].add_offer(offer, rules)
        total.add_offer(offer, rules)
        if offer.overflow_to is not None and offer.result not in PLATFORM_RESULTS:
            total.overflow_in += 1
            if by == "center":
                rows[offer.overflow_to, bucket].add_offer(offer, rules, overflow_in_only=True)
            else:
                rows[key, bucket].overflow_in += 1
    for time in agents:
        total.add_agent_time(time)
        if by in ("agent", "center"):
            rows[(time.agent if by == "agent" else time.center) or "-", time.start] \
                .add_agent_time(time)
    for call in calls:
        total.add_call(call)
        if by == "ivr":
            rows[call.branch, period_bucket(call.started_at)].add_call(call)
    return rows, total
