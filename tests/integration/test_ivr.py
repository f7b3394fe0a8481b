"""The hotline flow end to end: real SIP callers (SIPp) into the real PBX, one test per branch,
asserting on the stored call record and on the domain effect."""

from __future__ import annotations

import asyncio
import wave
from typing import Any

import numpy as np
import pytest
from sqlalchemy import select

from app.core.clock import today
from app.db.models import FoundItem, Order, QueueEntry, Train, TrainRun, WorkOrder
from app.db.session import Database
from tests.data import SPEECH
from tests.integration.conftest import Platform, wait_for

SPEECH = SPEECH / "ulaw8k/020.wav"
PAUSE = ",,"  # 2 s


def kinds(record: dict[str, Any]) -> list[str]:
    return [s["kind"] for s in record["steps"]]


def steps(record: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [s["detail"] for s in record["steps"] if s["kind"] == kind]


def prompts(record: dict[str, Any]) -> list[str]:
    return [d["prompt"] for d in steps(record, "prompt")]


def query(platform: Platform, fn: Any) -> Any:
    async def run() -> Any:
        db = Database(platform.db_url)
        try:
            async with db.session() as session:
                return await fn(session)
        finally:
            await db.dispose()

    return asyncio.run(run())


@pytest.fixture(scope="module")
def order(platform: Platform) -> tuple[str, str]:
    async def pick(session: Any) -> tuple[str, str]:
        o = (await session.scalars(select(Order).order_by(Order.id).limit(1))).one()
        return o.order_no, o.id_number[-4:]

    return query(platform, pick)  # type: ignore[no-any-return]


def train_keys(number: str) -> str:
    return {"G": "1", "D": "2", "K": "3", "Z": "4", "T": "5", "C": "6"}[number[0]] + number[1:]


def seconds_of(platform: Platform, *prompt_ids: str, lang: str = "zh") -> float:
    """How long these prompts play, as built for the PBX."""
    total = 0.0
    for prompt_id in prompt_ids:
        wav = platform.settings.root / f"var/lib/asterisk/sounds/hotline/{lang}/{prompt_id}.wav"
        with wave.open(str(wav)) as fh:
            total += fh.getnframes() / fh.getframerate()
    return total


def pause_for(platform: Platform, *prompt_ids: str) -> str:
    """Commas (1 s each) covering these Mandarin prompts, so speech starts after the beep."""
    return "," * (int(seconds_of(platform, *prompt_ids)) + 3)


def hold_for(platform: Platform, *prompt_ids: str, extra: float = 5.0) -> str:
    """--hold covering these prompts after the caller's last key, and some seconds more."""
    return str(round(seconds_of(platform, *prompt_ids) + extra))


def recording_rms(platform: Platform, path: str) -> float:
    wav = platform.settings.pbx_spool / path
    with wave.open(str(wav)) as fh:
        samples = np.frombuffer(fh.readframes(fh.getnframes()), dtype=np.int16)
    return float(np.sqrt(np.mean(samples.astype(np.float64) ** 2))) if len(samples) else 0.0


def test_order_query_speaks_the_tickets(platform: Platform, order: tuple[str, str]) -> None:
    number, last4 = order
    summary = platform.call("--dtmf", f"1{number[1:]}#{last4}#", "--hold", "60")
    assert summary["ok"] and summary["hung_up_by"] == "hotline", summary
    record = platform.record(summary["sip_call_id"])
    assert steps(record, "choice")[0]["to"] == "order_query"
    assert steps(record, "collected") == [
        {"var": "order_no", "digits": number[1:], "by": "keys"},
        {"var": "id_last4", "digits": "****", "by": "keys"}]
    assert steps(record, "lookup")[0]["found"] is True
    assert "speak" in kinds(record)
    assert record["outcome"] == "self_service" and record["language"] == "zh"
    assert prompts(record)[-1] == "goodbye"


@pytest.mark.parametrize("which", ["unknown order", "wrong verification"])
def test_failed_lookup_says_so_and_returns_to_the_menu(platform: Platform,
                                                       order: tuple[str, str], which: str) -> None:
    number, last4 = order
    digits = ("000000001", "1234") if which == "unknown order" else (
        number[1:], "0000" if last4 != "0000" else "1111")
    summary = platform.call("--dtmf", f"1{digits[0]}#{digits[1]}#",
                            "--hold", hold_for(platform, "order_not_found"))
    record = platform.record(summary["sip_call_id"])
    assert steps(record, "lookup")[0]["found"] is False
    assert "order_not_found" in prompts(record)
    assert prompts(record)[prompts(record).index("order_not_found") + 1] == "main_menu"
    assert record["outcome"] == "hung_up_in_menu"


def test_three_wrong_verifications_go_to_an_agent_and_stay_hidden(platform: Platform) -> None:
    async def pick(session: Any) -> tuple[str, str, str]:
        # Not the order the other tests look up: its lock must not affect them.
        o = (await session.scalars(select(Order).order_by(Order.id.desc()).limit(1))).one()
        return o.order_no, o.id_number[-4:].upper(), o.phone[-4:]

    number, id4, phone4 = query(platform, pick)
    wrong = [c for c in ("2580", "1470", "3690", "2468") if c not in (id4, phone4)][:3]
    tries = "".join(f"1{number[1:]}#{code}#" for code in wrong)
    summary = platform.call("--from", "13912345678", "--dtmf", tries, "--hold",
                            hold_for(platform, "too_many_failures", "transfer_agent", extra=8))
    record = platform.record(summary["sip_call_id"])
    assert [d["result"] for d in steps(record, "verification")] == ["failed"] * 3
    assert len(steps(record, "lookup")) == 3
    assert "too_many_failures" in prompts(record)
    assert record["queue_entries"][0]["reason"] == "order verification failed"
    assert record["queue_entries"][0]["queue"] == "general"
    # The keys of each verification are in the record as hidden keys, never as digits.
    trace = platform.trace(summary["sip_call_id"])
    assert trace["digits"] == f"1{number[1:]}#*****" * 3
    dtmf = [d["digit"] for d in steps(record, "dtmf")]
    assert "".join(dtmf) == trace["digits"]


def test_refund_guidance_and_order_fee(platform: Platform, order: tuple[str, str]) -> None:
    number, last4 = order
    summary = platform.call("--dtmf", f"21{number[1:]}#{last4}#", "--hold", "60")
    record = platform.record(summary["sip_call_id"])
    assert prompts(record)[:3] == ["welcome", "refund_policy", "refund_check_order"] or \
        "refund_policy" in prompts(record)
    lookup = steps(record, "lookup")[0]
    assert lookup["action"] == "refund_status" and lookup["found"] is True
    assert lookup["summary"].startswith("fee ")
    assert record["outcome"] == "self_service"


def test_train_status_today(platform: Platform) -> None:
    async def pick(session: Any) -> str:
        return (await session.scalars(
            select(Train.number).join(TrainRun, TrainRun.train_id == Train.id)
            .where(TrainRun.run_date == today()).order_by(Train.id).limit(1))).one()

    number = query(platform, pick)
    summary = platform.call("--dtmf", f"3{train_keys(number)}#1", "--hold", "60")
    record = platform.record(summary["sip_call_id"])
    lookup = steps(record, "lookup")[0]
    assert lookup["action"] == "train_status" and lookup["found"] is True
    assert lookup["summary"].startswith(number)
    assert record["outcome"] == "self_service"


def test_lost_item_not_found_records_a_message_into_a_work_order(platform: Platform) -> None:
    async def pick(session: Any) -> str:
        with_items = select(TrainRun.train_id).join(FoundItem, FoundItem.run_id == TrainRun.id)
        return (await session.scalars(
            select(Train.number).join(TrainRun, TrainRun.train_id == Train.id)
            .where(TrainRun.run_date == today(), Train.id.not_in(with_items))
            .order_by(Train.id).limit(1))).one()

    number = query(platform, pick)
    wait = pause_for(platform, "lost_item_none", "record_after_beep")
    summary = platform.call("--dtmf", f"4{train_keys(number)}#1" + wait,
                            "--speech", str(SPEECH), "--dtmf", "#", "--hold", "60")
    record = platform.record(summary["sip_call_id"])
    assert steps(record, "lookup")[0]["found"] is False
    assert "recorded" in kinds(record)
    wo_number = steps(record, "work_order")[0]["number"]

    async def load(session: Any) -> WorkOrder:
        return (await session.scalars(select(WorkOrder).where(WorkOrder.number == wo_number))
                ).one()

    wo = query(platform, load)
    assert wo.type.value == "lost_item" and wo.call_id == record["id"]
    assert number in wo.content
    assert recording_rms(platform, wo.recording) > 300, "the message is not silent"


def test_complaint_message_opens_a_work_order_and_speaks_its_number(platform: Platform) -> None:
    wait = pause_for(platform, "complaint_record")
    summary = platform.call("--dtmf", "5" + wait, "--speech", str(SPEECH), "--dtmf", "#",
                            "--hold", "60")
    record = platform.record(summary["sip_call_id"])
    wo_number = steps(record, "work_order")[0]["number"]
    assert "work_order_created" in prompts(record)

    async def load(session: Any) -> WorkOrder:
        return (await session.scalars(select(WorkOrder).where(WorkOrder.number == wo_number))
                ).one()

    wo = query(platform, load)
    assert wo.type.value == "complaint" and wo.recording
    assert "语音转写：" in wo.content, "the message is transcribed into the work order"
    assert steps(record, "transcribed")[0]["chars"] > 0
    assert recording_rms(platform, wo.recording) > 300
    assert record["outcome"] == "self_service"


@pytest.mark.parametrize("key, queue, priority", [("6", "assistance", True),
                                                  ("0", "general", False)])
def test_agent_and_assistance_wait_in_a_queue(platform: Platform, key: str, queue: str,
                                              priority: bool) -> None:
    from tests.integration.test_acd import agent, set_state

    # An agent with both skills is logged in but paused: callers wait in the queue.
    number = agent(platform, "7601", "ticket:5,assistance:5")
    set_state(platform, number, "ready")
    set_state(platform, number, "paused")
    try:
        summary = platform.call("--dtmf", key, "--hold",
                                hold_for(platform, "assistance_transfer", "transfer_agent"))
    finally:
        set_state(platform, number, "logged_out")
    assert summary["hung_up_by"] == "caller"
    record = platform.record(summary["sip_call_id"])
    assert record["priority"] is priority
    assert record["outcome"] == "abandoned"
    assert "queue" in kinds(record)
    entry = record["queue_entries"][0]
    assert entry["queue"] == queue and entry["priority"] is priority
    assert entry["result"] == "abandoned"


def test_garbage_digits_three_times_go_to_an_agent(platform: Platform) -> None:
    summary = platform.call("--dtmf", "7,,8,,#", "--hold",
                            hold_for(platform, "invalid_input", "too_many_failures"))
    record = platform.record(summary["sip_call_id"])
    assert [d["key"] for d in steps(record, "invalid")] == ["7", "8", "#"]
    assert prompts(record).count("invalid_input") == 2
    assert "too_many_failures" in prompts(record)
    assert record["queue_entries"][0]["reason"] == "no valid input after 3 tries"


def test_no_input_three_times_goes_to_an_agent(platform: Platform) -> None:
    # Three times: the menu, its timeout (5 s) and "no input"; then the transfer.
    hold = hold_for(platform, "welcome", *["main_menu", "no_input"] * 3, "too_many_failures",
                    extra=20)
    summary = platform.call("--hold", hold, "--timeout", str(float(hold) + 60), timeout=200)
    record = platform.record(summary["sip_call_id"])
    assert len(steps(record, "no_input")) == 3
    assert record["queue_entries"], "the caller waits for an agent"


def test_hang_up_mid_prompt_leaves_a_complete_record(platform: Platform) -> None:
    summary = platform.call("--hold", "1")
    record = platform.record(summary["sip_call_id"])
    assert record["outcome"] == "hung_up_in_menu"
    assert record["ended_at"] and kinds(record)[-1] == "hangup"
    wait_for(lambda: platform.channels() == 0, 10, "no channel left")


def test_english_branch(platform: Platform) -> None:
    summary = platform.call("--dtmf", "9" + PAUSE + "0", "--hold", "10")
    record = platform.record(summary["sip_call_id"])
    assert record["language"] == "en"
    langs = [d["lang"] for d in steps(record, "prompt")]
    assert langs[0] == "zh" and langs[-1] == "en"


def test_thirty_concurrent_callers_on_mixed_branches(platform: Platform,
                                                     order: tuple[str, str]) -> None:
    import concurrent.futures

    number, last4 = order
    scripts = [
        ("--dtmf", f"1{number[1:]}#{last4}#", "--hold", "60"),
        ("--dtmf", "0", "--hold", hold_for(platform, "transfer_agent")),
        ("--dtmf", "7,,8,,#", "--hold", hold_for(platform, "invalid_input",
                                                  "too_many_failures")),
    ]
    with concurrent.futures.ThreadPoolExecutor(3) as pool:
        results = list(pool.map(
            lambda script: platform.call(*script, "--calls", "10", "--rate", "10",
                                         timeout=180), scripts))
    for summary in results:
        assert summary["completed"] == 10, summary
    records = [[platform.record(sip_id) for sip_id in summary["sip_call_ids"]]
               for summary in results]
    assert all(r["outcome"] == "self_service" for r in records[0])
    assert all(r["outcome"] == "abandoned" for r in records[1])
    assert all(r["queue_entries"][0]["reason"] == "no valid input after 3 tries"
               for r in records[2])
    wait_for(lambda: platform.channels() == 0, 15, "no leaked channels")

    async def count(session: Any) -> int:
        return len(list(await session.scalars(select(QueueEntry).where(
            QueueEntry.left_at.is_(None)))))

    assert query(platform, count) == 0, "every queue entry was closed"
