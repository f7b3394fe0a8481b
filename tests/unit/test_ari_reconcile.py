"""Sorting what our Stasis app holds after a restart: callers to adopt, the rest to clear."""

from __future__ import annotations

from datetime import UTC, datetime

from app.ari_handlers.models import Bridge, Channel
from app.ari_handlers.reconcile import TalkLeft, sort_leftovers


def chan(cid: str, name: str, app_data: str | None = "hotline", state: str = "Up") -> Channel:
    plan = {"context": "x", "exten": "s", "priority": 1}
    if app_data is not None:
        plan |= {"app_name": "Stasis", "app_data": app_data}
    return Channel.model_validate({"id": cid, "name": name, "state": state, "dialplan": plan})


def bridge(bid: str, kind: str, *members: str) -> Bridge:
    return Bridge.model_validate({"id": bid, "bridge_type": kind, "bridge_class": "stasis",
                                  "channels": list(members), "name": f"{kind}-{bid}"})


CHANNELS = [
    chan("c1", "PJSIP/caller-1"),  # in the menu
    chan("c2", "PJSIP/caller-2"),  # waiting, in a holding bridge
    chan("c3", "PJSIP/caller-3"),  # talking to agent leg a3
    chan("a3", "PJSIP/agent-7001-3", "hotline,agent,c3"),
    chan("a9", "PJSIP/agent-7002-9", "hotline,agent,gone"),  # its caller is gone
    chan("r1", "PJSIP/agent-7003-4", None, state="Ringing"),  # rang for the old process
    chan("s1", "Snoop/c1-0001"),
    chan("m1", "AudioSocket/127.0.0.1:4000-uuid", "hotline,uuid"),
    chan("e1", "PJSIP/caller-5", "hotline,echo"),
    chan("o1", "PJSIP/trunk-1", None),  # not ours: in the dialplan
    chan("live", "PJSIP/caller-6"),  # a call this process runs
]
BRIDGES = [bridge("h2", "holding", "c2"), bridge("t3", "mixing", "c3", "a3"),
           bridge("tap", "mixing", "s1", "m1"), bridge("mine", "mixing", "live")]


def test_callers_are_adopted_helpers_hung_up_and_bridges_destroyed() -> None:
    found = sort_leftovers(CHANNELS, BRIDGES, "hotline", lambda cid: cid == "live")
    assert sorted(c.id for c in found.callers) == ["c1", "c2", "c3"]
    assert found.talks == {"c3": TalkLeft("t3", "a3")}
    assert sorted(c.id for c in found.hang_up) == ["a9", "e1", "m1", "r1", "s1"]
    assert sorted(b.id for b in found.destroy) == ["h2", "tap"]  # not the talk, not ours


def test_nothing_left_when_every_channel_is_owned() -> None:
    found = sort_leftovers(CHANNELS, BRIDGES, "hotline", lambda cid: True)
    assert not found


def test_another_apps_channels_are_not_touched() -> None:
    found = sort_leftovers(CHANNELS, [], "other-app", lambda cid: False)
    assert [c.id for c in found.hang_up] == ["r1"]  # an agent phone ringing for nobody
    assert not found.callers


def test_a_sweep_leaves_young_channels_and_bridges_to_their_owners() -> None:
    young = chan("y1", "PJSIP/caller-7")
    young.creationtime = datetime.fromtimestamp(1000.0, UTC)
    old = chan("o2", "PJSIP/caller-8")
    old.creationtime = datetime.fromtimestamp(900.0, UTC)
    fresh_bridge = bridge("fb", "holding", "o2")
    fresh_bridge.creationtime = datetime.fromtimestamp(1000.0, UTC)
    found = sort_leftovers([young, old], [fresh_bridge], "hotline", lambda cid: False,
                           min_age=10, now=1005.0)
    assert [c.id for c in found.callers] == ["o2"] and found.destroy == []


def test_a_caller_on_hold_is_adopted_with_its_agent_alone_in_the_talk() -> None:
    channels = [chan("c4", "PJSIP/caller-4"), chan("a4", "PJSIP/agent-7004-1", "hotline,agent,c4"),
                chan("c5", "PJSIP/caller-5"), chan("a5", "PJSIP/agent-7005-1", "hotline,agent,c5")]
    bridges = [bridge("h4", "holding", "c4"), bridge("t4", "mixing", "a4"),  # c4 on hold
               bridge("t5", "mixing", "c5", "a5")]  # c5 talking
    found = sort_leftovers(channels, bridges, "hotline", lambda cid: False)
    assert found.talks == {"c4": TalkLeft("t4", "a4", held=True), "c5": TalkLeft("t5", "a5")}
    assert [b.id for b in found.destroy] == ["h4"], "the hold goes; the talk stays"
    assert found.hang_up == []


def test_an_agent_alone_whose_caller_is_gone_is_hung_up() -> None:
    channels = [chan("a6", "PJSIP/agent-7006-1", "hotline,agent,c6")]
    found = sort_leftovers(channels, [bridge("t6", "mixing", "a6")], "hotline",
                           lambda cid: False)
    assert [c.id for c in found.hang_up] == ["a6"] and [b.id for b in found.destroy] == ["t6"]
