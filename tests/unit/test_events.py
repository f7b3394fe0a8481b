from __future__ import annotations

import asyncio

from app.events import AgentStateChanged, CallEnded, CallStarted, EventFeed, QueueJoined


async def test_every_subscriber_gets_events_in_order() -> None:
    feed = EventFeed()
    a, b = feed.subscribe(), feed.subscribe()
    feed.publish(CallStarted(call_id="c1", caller="138****8000", called="12306"))
    feed.publish(QueueJoined(call_id="c1", queue="general"))
    feed.publish(CallEnded(call_id="c1", outcome="transferred"))
    for sub in (a, b):
        kinds = [(await sub.get(1)).kind for _ in range(3)]  # type: ignore[union-attr]
        assert kinds == ["call.started", "queue.joined", "call.ended"]
    assert feed.published == 3


async def test_filters_and_unsubscribe() -> None:
    feed = EventFeed()
    agent = feed.subscribe(lambda e: isinstance(e, AgentStateChanged) and e.agent == "1001")
    feed.publish(AgentStateChanged(agent="1002", state="ready"))
    feed.publish(AgentStateChanged(agent="1001", state="paused", reason="小休"))
    got = await agent.get(1)
    assert got is not None and got.as_dict()["reason"] == "小休"
    assert await agent.get(0.05) is None
    agent.close()
    assert feed.subscribers == 0
    feed.publish(AgentStateChanged(agent="1001", state="ready"))
    assert agent.queue.empty()


async def test_a_slow_subscriber_loses_its_oldest_events_not_the_publisher() -> None:
    feed = EventFeed()
    slow = feed.subscribe(maxsize=2)
    for n in range(5):
        feed.publish(CallStarted(call_id=f"c{n}"))
    assert slow.dropped == 3
    assert [(await slow.get(1)).call_id for _ in range(2)] == ["c3", "c4"]  # type: ignore[union-attr]


async def test_a_failing_filter_does_not_fail_the_publisher() -> None:
    feed = EventFeed()

    def broken(_: object) -> bool:
        raise RuntimeError("bad filter")

    feed.subscribe(broken)
    ok = feed.subscribe()
    feed.publish(CallStarted(call_id="c1"))
    assert (await ok.get(1)) is not None


def test_events_serialise_with_their_kind() -> None:
    event = QueueJoined(call_id="c1", queue="assistance", priority=True, entry_id=7)
    data = event.as_dict()
    assert data["kind"] == "queue.joined" and data["priority"] is True and data["at"] > 0
    assert asyncio.iscoroutinefunction(EventFeed.publish) is False


def test_a_transfer_or_consultation_concerns_both_agents() -> None:
    from app.events import CallConsultStarted, CallHeld, CallTransferred, concerns_agent

    moved = CallTransferred(call_id="c1", agent="1001", by="1001", to_agent="1002")
    assert concerns_agent(moved, "1001") and concerns_agent(moved, "1002")
    assert not concerns_agent(moved, "1003")
    asked = CallConsultStarted(call_id="c1", agent="1001", to_agent="1002")
    assert concerns_agent(asked, "1002")
    held = CallHeld(call_id="c1", agent="1001", by="sup1")
    assert concerns_agent(held, "1001") and not concerns_agent(held, "1002")
    assert held.as_dict()["kind"] == "call.held" and held.as_dict()["by"] == "sup1"
