from __future__ import annotations

from types import SimpleNamespace

from app.acd.waiting import hints_of, screen_context
from app.core.calltrace import CallTrace


def call_with_steps() -> SimpleNamespace:
    trace = CallTrace(call_id="c1", caller="13800138000", called="12306")
    trace.step("node", node="main")
    trace.step("speech", intent="refund", confidence=0.91, transcript="我要退票")
    trace.step("node", node="refund_change")
    trace.step("node", node="agent")
    return SimpleNamespace(trace=trace)


def test_the_screen_pop_carries_what_the_menu_learned_with_the_order_masked() -> None:
    pop = screen_context(call_with_steps(), {"order_no": "000104729", "id_last4": "3360"},  # type: ignore[arg-type]
                         "zh", True, 12.34, "上海", 3)
    assert pop["ivr_path"] == ["main", "refund_change", "agent"]
    assert (pop["intent"], pop["transcript"], pop["confidence"]) == ("refund", "我要退票", 0.91)
    assert pop["order_number"] == "E00*****29"
    assert "3360" not in str(pop) and "000104729" not in str(pop)
    assert pop["language"] == "zh" and pop["priority"] is True
    assert pop["wait_seconds"] == 12.3 and pop["overflow_from"] == "上海"
    assert pop["calls_last_7_days"] == 3
    assert pop["work_orders"] == []


def test_the_screen_pop_lists_this_numbers_work_orders() -> None:
    orders = [{"number": "GD261201000007", "type": "complaint", "status": "new",
               "created_at": "2026-12-01T01:00:00+00:00"}]
    pop = screen_context(call_with_steps(), {}, "zh", False, 1.0, None, 2,  # type: ignore[arg-type]
                         orders)
    assert pop["work_orders"] == orders


def test_hints_are_the_menu_path_and_recognised_intents_in_order() -> None:
    assert hints_of(call_with_steps()) == ["main", "refund", "refund_change", "agent"]  # type: ignore[arg-type]
