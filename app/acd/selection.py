"""Which agent takes which waiting call: pure functions over plain snapshots (no database, no
telephony), so every rule is a unit test and every node of a cluster decides the same way.

Rules:
- An agent takes a call when ready and has the call's skill (level 1–9); queues marked
  experts_only take expert agents only.
- Higher skill level first, then the agent idle longest (app_queue's `leastrecent`); an agent
  who has not had a call since logging in (idle_since None) counts as idle longest.
- A call is served by its own center. Once the queue's overflow time has passed (by default
  `overflow.after` seconds after it entered), agents of the allowed other centers may take it,
  and, when the queue's overflow allows experts, expert agents of those centers (its own
  included) even without the skill.
- Waiting calls are served in order: priority callers (the call's flag or a priority queue)
  first, then by the time they entered. A callback request is a waiting call too; it is served
  only when no live caller of its queue who has waited longer is still waiting.
- Each center's own callers get its agents first; overflow uses the agents left over.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal, NamedTuple

from app.acd.routing import QueueRule, RoutingRules

AgentState = Literal["logged_out", "ready", "ringing", "on_call", "wrap_up", "paused"]
AGENT_STATES: tuple[AgentState, ...] = (
    "logged_out", "ready", "ringing", "on_call", "wrap_up", "paused"
)


@dataclass(frozen=True)
class AgentView:
    number: str  # 工号
    center: str
    state: AgentState
    skills: dict[str, int]  # skill → level 1–9
    expert: bool = False
    idle_since: float | None = None  # when the agent last became free; None: no call yet

    def level(self, skill: str) -> int:
        return self.skills.get(skill, 0)


@dataclass(frozen=True)
class WaitingCall:
    call_id: str
    queue: str
    skill: str
    center: str
    priority: bool = False
    entered_at: float = 0.0
    # From when other centers may take the call; None: entered_at + the queue's overflow.after.
    # The caller of these functions may move it later (e.g. while its own center had a ready
    # agent of the skill that did not answer).
    overflow_allowed_at: float | None = None
    callback: bool = False


@dataclass(frozen=True)
class Pick:
    agent: AgentView
    origin: str  # the call's center
    destination: str  # the agent's center
    by_expert: bool = False  # an expert without the call's skill (overflow.experts)

    @property
    def overflow(self) -> bool:
        return self.origin != self.destination


class Assignment(NamedTuple):
    call: WaitingCall
    agent: AgentView
    pick: Pick

    @property
    def overflow(self) -> bool:
        return self.pick.overflow


def overflow_time(call: WaitingCall, rule: QueueRule) -> float:
    if call.overflow_allowed_at is not None:
        return call.overflow_allowed_at
    return call.entered_at + rule.overflow.after


def _best(agents: Iterable[AgentView], skill: str) -> AgentView | None:
    # Higher level first; then idle longest (never-called first); the 工号 keeps ties stable.
    def key(a: AgentView) -> tuple[int, float, str]:
        return (-a.level(skill), a.idle_since if a.idle_since is not None else -math.inf,
                a.number)

    return min(agents, key=key, default=None)


def _candidates(rule: QueueRule, agents: Iterable[AgentView]) -> list[AgentView]:
    return [a for a in agents if a.state == "ready" and (a.expert or not rule.experts_only)]


def pick_agent(
    call: WaitingCall,
    agents: Sequence[AgentView],
    now: float,
    rules: RoutingRules,
    allow_overflow: bool = True,
) -> Pick | None:
    """The agent who should take `call` now, or None. `allow_overflow=False` looks in the
    call's own center only (whatever the time)."""
    rule = rules.queue(call.queue)
    ready = _candidates(rule, agents)
    skilled = [a for a in ready if a.level(call.skill) > 0]
    own = _best((a for a in skilled if a.center == call.center), call.skill)
    if own is not None:
        return Pick(own, call.center, own.center)
    if not allow_overflow or now < overflow_time(call, rule):
        return None
    allowed = set(rules.overflow_centers(call.queue, call.center))
    other = _best((a for a in skilled if a.center in allowed), call.skill)
    if other is not None:
        return Pick(other, call.center, other.center)
    if rule.overflow.experts:
        centers = allowed | {call.center}
        expert = _best((a for a in ready if a.expert and a.center in centers), call.skill)
        if expert is not None:
            return Pick(expert, call.center, expert.center, by_expert=True)
    return None


def queue_order(rules: RoutingRules) -> Callable[[WaitingCall], tuple[bool, float, str]]:
    """Sort key of waiting calls: priority first, then who entered first."""

    def key(call: WaitingCall) -> tuple[bool, float, str]:
        priority = call.priority or rules.queue(call.queue).priority
        return (not priority, call.entered_at, call.call_id)

    return key


def _older_live_caller_waits(
    callback: WaitingCall, waiting: Sequence[WaitingCall], served: set[str]
) -> bool:
    return any(
        not c.callback
        and c.queue == callback.queue
        and c.entered_at < callback.entered_at
        and c.call_id not in served
        for c in waiting
    )


def next_assignments(
    waiting: Sequence[WaitingCall],
    agents: Sequence[AgentView],
    now: float,
    rules: RoutingRules,
    exclude: Mapping[str, Collection[str]] | None = None,
) -> list[Assignment]:
    """As many (call, agent) pairs as can be made now, in queue order; each agent and each
    call at most once. First every call in its own center, then overflow with the agents
    left, so a quiet center's agents serve its own callers before a busy center's.
    `exclude` maps a call id to agents not to offer it now (they just did not answer it)."""
    order = sorted(waiting, key=queue_order(rules))
    free = {a.number: a for a in agents if a.state == "ready"}
    served: set[str] = set()
    result: list[Assignment] = []
    for allow_overflow in (False, True):
        for call in order:
            if call.call_id in served:
                continue
            if call.callback and _older_live_caller_waits(call, order, served):
                continue
            skip = exclude.get(call.call_id, ()) if exclude else ()
            pick = pick_agent(call, [a for a in free.values() if a.number not in skip], now,
                              rules, allow_overflow)
            if pick is None:
                continue
            del free[pick.agent.number]
            served.add(call.call_id)
            result.append(Assignment(call, pick.agent, pick))
    return result


def eligible_anywhere(skill: str, agents: Iterable[AgentView]) -> bool:
    """Whether any logged-in agent (in any state but logged_out, any center) has the skill;
    if not, a caller should be offered a callback instead of waiting."""
    return any(a.state != "logged_out" and a.level(skill) > 0 for a in agents)
