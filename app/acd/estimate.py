"""Position in queue and estimated wait, for announcements and the callback offer.

Estimate: the mean of the last N answered waits of the queue (a rolling window, default 20),
times the caller's position, divided by the agents serving the skill:

    wait ≈ mean(recent answered waits) × position ÷ serving agents

The recent waits carry what the statistics do not know in advance (handle times, how busy the
agents are); the position and the agent count scale them to this caller. Without history a
queue assumes DEFAULT_WAIT seconds per position and agent. With no agent serving the skill
there is no estimate (None): offer a callback instead.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from app.acd.routing import RoutingRules
from app.acd.selection import AgentView, WaitingCall, queue_order

DEFAULT_WINDOW = 20
DEFAULT_WAIT = 60.0  # seconds per position and agent while a queue has no answered calls yet
SERVING_STATES = frozenset({"ready", "ringing", "on_call", "wrap_up"})  # not paused, logged in


class WaitHistory:
    """The last `window` answered waits per queue (in memory; rebuilt from the queue entries
    of the database at start-up by whoever owns it)."""

    def __init__(self, window: int = DEFAULT_WINDOW) -> None:
        if window < 1:
            raise ValueError("window must be at least 1")
        self.window = window
        self._waits: dict[str, deque[float]] = {}

    def record(self, queue: str, waited: float) -> None:
        self._waits.setdefault(queue, deque(maxlen=self.window)).append(max(0.0, waited))

    def recent(self, queue: str) -> list[float]:
        return list(self._waits.get(queue, ()))

    def mean(self, queue: str) -> float | None:
        waits = self._waits.get(queue)
        return sum(waits) / len(waits) if waits else None


def position_in_queue(
    call: WaitingCall, waiting: Sequence[WaitingCall], rules: RoutingRules
) -> int:
    """1 for the next caller to be served. Counts the calls of the same queue and skill ahead
    in the order agents take them (priority first, then who entered first); calls needing
    another skill wait for other agents and are not ahead."""
    key = queue_order(rules)
    mine = key(call)
    ahead = sum(
        1 for c in waiting
        if c.call_id != call.call_id and c.queue == call.queue and c.skill == call.skill
        and key(c) < mine
    )
    return ahead + 1


def serving_agents(skill: str, agents: Iterable[AgentView], centers: set[str] | None = None) -> int:
    """Logged-in, not paused agents with the skill (in `centers`, when given)."""
    return sum(
        1 for a in agents
        if a.state in SERVING_STATES and a.level(skill) > 0
        and (centers is None or a.center in centers)
    )


def estimate_wait(
    position: int, serving: int, mean_wait: float | None, default: float = DEFAULT_WAIT
) -> float | None:
    """Estimated seconds until an agent answers, or None when no agent serves the skill."""
    if serving <= 0:
        return None
    per_position = mean_wait if mean_wait is not None else default
    return per_position * max(1, position) / serving


@dataclass(frozen=True)
class Estimate:
    position: int
    seconds: float | None  # None: no agent serves this skill now


def estimate_for(
    call: WaitingCall,
    waiting: Sequence[WaitingCall],
    agents: Sequence[AgentView],
    history: WaitHistory,
    rules: RoutingRules,
) -> Estimate:
    """Position and wait of one call; agents of its own center and of the centers its queue
    overflows to count as serving it."""
    position = position_in_queue(call, waiting, rules)
    centers = {call.center, *rules.overflow_centers(call.queue, call.center)}
    serving = serving_agents(call.skill, agents, centers)
    return Estimate(position, estimate_wait(position, serving, history.mean(call.queue)))
