"""Agent selection: skill level, longest idle, priority, overflow, experts, callbacks."""

from __future__ import annotations

from dataclasses import replace

from app.acd.routing import parse_routing
from app.acd.selection import (
    AgentView,
    WaitingCall,
    eligible_anywhere,
    next_assignments,
    pick_agent,
)

RULES = parse_routing("""\
queues:
  general:
    skill_from: {default: ticket}
  refund_change:
    skill: refund_change
    overflow: {after: 30, to: [上海]}
  assistance:
    skill: assistance
    priority: true
    overflow: {after: 20, to: any, experts: true}
  expert:
    skill: ticket
    experts_only: true
centers:
  names: [北京, 上海, 太原]
  default: 北京
""")


def agent(number: str, center: str = "北京", state: str = "ready", idle: float | None = 0.0,
          expert: bool = False, **skills: int) -> AgentView:
    return AgentView(number, center, state, skills or {"ticket": 5}, expert, idle)  # type: ignore[arg-type]


def call(call_id: str, queue: str = "general", skill: str = "ticket", center: str = "北京",
         entered: float = 0.0, priority: bool = False, callback: bool = False) -> WaitingCall:
    return WaitingCall(call_id, queue, skill, center, priority, entered, callback=callback)


def picked(c: WaitingCall, agents: list[AgentView], now: float = 1.0) -> str | None:
    pick = pick_agent(c, agents, now, RULES)
    return pick.agent.number if pick else None


def test_higher_skill_level_first() -> None:
    agents = [agent("1001", ticket=3, idle=0), agent("1002", ticket=7, idle=50)]
    assert picked(call("c"), agents) == "1002"


def test_same_level_longest_idle_first_never_called_counts_longest() -> None:
    agents = [agent("1001", idle=30), agent("1002", idle=10), agent("1003", idle=20)]
    assert picked(call("c"), agents) == "1002"
    assert picked(call("c"), [*agents, agent("1004", idle=None)]) == "1004"


def test_only_ready_agents_with_the_skill() -> None:
    agents = [agent(str(1000 + i), state=s) for i, s in
              enumerate(["logged_out", "ringing", "on_call", "wrap_up", "paused"])]
    agents.append(agent("2000", refund_change=9))
    assert picked(call("c"), agents) is None
    assert picked(call("c"), [*agents, agent("3000")]) == "3000"


def test_own_center_only_before_overflow_time() -> None:
    c = call("c", queue="refund_change", skill="refund_change", entered=100.0)
    shanghai = agent("2001", center="上海", refund_change=5)
    assert pick_agent(c, [shanghai], now=129.9, rules=RULES) is None
    pick = pick_agent(c, [shanghai], now=130.0, rules=RULES)
    assert pick is not None and pick.agent.number == "2001"
    assert pick.overflow and (pick.origin, pick.destination) == ("北京", "上海")
    # its own center's agent, once ready, is preferred and is no overflow
    own = pick_agent(c, [shanghai, agent("1001", refund_change=1)], now=500.0, rules=RULES)
    assert own is not None and own.agent.number == "1001" and not own.overflow


def test_overflow_only_to_allowed_centers() -> None:
    c = call("c", queue="refund_change", skill="refund_change")
    taiyuan = agent("3001", center="太原", refund_change=9)
    assert pick_agent(c, [taiyuan], now=1000.0, rules=RULES) is None
    # general overflows to any other center
    g = call("g", entered=0.0, center="上海")
    pick = pick_agent(g, [agent("3002", center="太原")], now=30.0, rules=RULES)
    assert pick is not None and pick.destination == "太原"


def test_overflow_allowed_at_overrides_the_default_time() -> None:
    c = replace(call("c", queue="refund_change", skill="refund_change"), overflow_allowed_at=100.0)
    shanghai = agent("2001", center="上海", refund_change=5)
    assert pick_agent(c, [shanghai], now=60.0, rules=RULES) is None
    assert pick_agent(c, [shanghai], now=100.0, rules=RULES) is not None


def test_experts_without_the_skill_only_after_overflow_when_configured() -> None:
    c = call("c", queue="assistance", skill="assistance", entered=0.0)
    expert = agent("1009", expert=True, ticket=9)
    assert pick_agent(c, [expert], now=19.0, rules=RULES) is None
    pick = pick_agent(c, [expert], now=20.0, rules=RULES)
    assert pick is not None and pick.by_expert and not pick.overflow
    # a skilled agent of another center comes before an expert without the skill
    helper = agent("2001", center="上海", assistance=1)
    pick = pick_agent(c, [expert, helper], now=20.0, rules=RULES)
    assert pick is not None and pick.agent.number == "2001" and not pick.by_expert
    # queues without overflow.experts never use them
    r = call("r", queue="refund_change", skill="refund_change")
    assert pick_agent(r, [expert], now=1000.0, rules=RULES) is None


def test_experts_only_queue() -> None:
    c = call("c", queue="expert")
    assert picked(c, [agent("1001", ticket=9)]) is None
    assert picked(c, [agent("1001", ticket=9), agent("1002", expert=True, ticket=2)]) == "1002"


def pairs(waiting: list[WaitingCall], agents: list[AgentView], now: float = 1.0) -> list[
        tuple[str, str]]:
    return [(a.call.call_id, a.agent.number) for a in next_assignments(waiting, agents, now, RULES)]


def test_priority_jumps_the_queue_then_first_come_first_served() -> None:
    waiting = [call("old", entered=1.0), call("new", entered=5.0),
               call("vip", entered=9.0, priority=True)]
    assert pairs(waiting, [agent("1001")], now=10.0) == [("vip", "1001")]
    assert pairs(waiting, [agent("1001"), agent("1002", idle=5)], now=10.0) == [
        ("vip", "1001"), ("old", "1002")]
    # a priority queue counts as priority for every caller in it
    assist = call("help", queue="assistance", skill="assistance", entered=9.0)
    both = agent("1003", ticket=1, assistance=1)
    assert pairs([call("old", entered=1.0), assist], [both], now=10.0) == [("help", "1003")]


def test_an_agent_is_never_assigned_twice() -> None:
    waiting = [call(f"c{i}", entered=float(i)) for i in range(5)]
    result = pairs(waiting, [agent("1001"), agent("1002")], now=100.0)
    assert result == [("c0", "1001"), ("c1", "1002")]
    many = [agent(str(1000 + i), center=c) for i, c in enumerate(["北京", "上海", "太原"] * 2)]
    waiting = [call(f"c{i}", center="北京", entered=float(i)) for i in range(10)]
    result = pairs(waiting, many, now=100.0)
    numbers = [a for _, a in result]
    assert len(result) == 6 and len(set(numbers)) == 6


def test_own_center_callers_get_their_agents_before_overflow() -> None:
    # 北京 is busy; its older caller may overflow, but not take 上海's agent from 上海's caller
    beijing = call("bj", center="北京", entered=0.0)
    shanghai = call("sh", center="上海", entered=50.0)
    assert pairs([beijing, shanghai], [agent("2001", center="上海")], now=60.0) == [
        ("sh", "2001")]
    assert pairs([beijing, shanghai], [agent("2001", center="上海"),
                                       agent("2002", center="上海")], now=60.0) == [
        ("sh", "2001"), ("bj", "2002")]
    result = next_assignments([beijing], [agent("2002", center="上海")], 60.0, RULES)
    assert result[0].overflow and result[0].pick.origin == "北京"


def test_callback_yields_to_an_older_live_caller_of_its_queue() -> None:
    cb = call("cb", entered=10.0, callback=True)
    older = call("live-old", entered=5.0, center="上海")  # cannot be served yet (its center)
    younger = call("live-new", entered=20.0)
    # the older live caller still waits: the callback waits too, the agent takes the younger
    assert pairs([cb, older, younger], [agent("1001")], now=21.0) == [("live-new", "1001")]
    # without the older live caller the callback goes first (it asked first)
    assert pairs([cb, younger], [agent("1001")], now=21.0) == [("cb", "1001")]
    # once the older caller is served (overflow), the callback gets its turn
    assert pairs([cb, older], [agent("1001"), agent("1002")], now=40.0) == [
        ("live-old", "1001"), ("cb", "1002")]
    # a live caller of another queue does not hold a callback back
    other = call("other", queue="refund_change", skill="refund_change", entered=1.0)
    assert pairs([cb, other], [agent("1001")], now=21.0) == [("cb", "1001")]


def test_eligible_anywhere_counts_logged_in_agents_of_any_state_and_center() -> None:
    agents = [agent("1001", state="logged_out", english=5),
              agent("2001", center="上海", state="paused", lost_found=1)]
    assert not eligible_anywhere("english", agents)
    assert eligible_anywhere("lost_found", agents)
    assert not eligible_anywhere("complaint", agents)
