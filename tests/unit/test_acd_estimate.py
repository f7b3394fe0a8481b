"""Queue position and wait estimates."""

from __future__ import annotations

import pytest

from app.acd.estimate import (
    DEFAULT_WAIT,
    WaitHistory,
    estimate_for,
    estimate_wait,
    position_in_queue,
    serving_agents,
)
from app.acd.routing import parse_routing
from app.acd.selection import AgentView, WaitingCall

RULES = parse_routing("""\
queues:
  general: {skill_from: {default: ticket}}
  refund_change: {skill: refund_change, overflow: {to: [上海]}}
  assistance: {skill: assistance, priority: true}
centers: {names: [北京, 上海, 太原], default: 北京}
""")


def call(call_id: str, entered: float, queue: str = "general", skill: str = "ticket",
         priority: bool = False, center: str = "北京") -> WaitingCall:
    return WaitingCall(call_id, queue, skill, center, priority, entered)


def agent(number: str, state: str = "on_call", center: str = "北京",
          **skills: int) -> AgentView:
    return AgentView(number, center, state, skills or {"ticket": 1})  # type: ignore[arg-type]


def test_rolling_window_keeps_the_last_n_answered_waits() -> None:
    history = WaitHistory(window=3)
    assert history.mean("general") is None
    for waited in (100, 10, 20, 30):
        history.record("general", waited)
    assert history.recent("general") == [10, 20, 30]
    assert history.mean("general") == pytest.approx(20)
    assert history.mean("complaint") is None
    with pytest.raises(ValueError):
        WaitHistory(window=0)


def test_position_counts_same_queue_and_skill_ahead_priority_first() -> None:
    waiting = [call("a", 1), call("b", 2), call("vip", 3, priority=True),
               call("other-skill", 0, skill="complaint"), call("other-queue", 0,
                                                                queue="refund_change")]
    assert position_in_queue(waiting[0], waiting, RULES) == 2
    assert position_in_queue(waiting[1], waiting, RULES) == 3
    assert position_in_queue(waiting[2], waiting, RULES) == 1
    assert position_in_queue(waiting[3], waiting, RULES) == 1


def test_estimate_scales_mean_wait_by_position_over_serving_agents() -> None:
    assert estimate_wait(position=3, serving=2, mean_wait=40.0) == pytest.approx(60.0)
    assert estimate_wait(position=1, serving=1, mean_wait=None) == DEFAULT_WAIT
    assert estimate_wait(position=2, serving=0, mean_wait=40.0) is None


def test_serving_agents_are_logged_in_not_paused_with_the_skill() -> None:
    agents = [agent("1", "ready"), agent("2", "on_call"), agent("3", "wrap_up"),
              agent("4", "ringing"), agent("5", "paused"), agent("6", "logged_out"),
              agent("7", "ready", complaint=3), agent("8", "ready", center="上海")]
    assert serving_agents("ticket", agents) == 5
    assert serving_agents("ticket", agents, {"北京"}) == 4


def test_estimate_for_a_call_counts_its_own_and_overflow_centers() -> None:
    history = WaitHistory()
    history.record("refund_change", 30)
    history.record("refund_change", 90)
    waiting = [call("a", 1, queue="refund_change", skill="refund_change"),
               call("b", 2, queue="refund_change", skill="refund_change")]
    agents = [agent("1", refund_change=1), agent("2", center="上海", refund_change=1),
              agent("3", center="太原", refund_change=1)]  # 太原 is not an overflow target
    estimate = estimate_for(waiting[1], waiting, agents, history, RULES)
    assert estimate.position == 2
    assert estimate.seconds == pytest.approx(60.0 * 2 / 2)
    assert estimate_for(waiting[0], waiting, agents[2:], history, RULES).seconds is None
