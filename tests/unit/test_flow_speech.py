"""Speech in the flow runner: a scripted speech service stands in for the recogniser (the real
one is tested on the model in test_asr_* and in live calls in tests/integration/test_speech)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from app.ari_handlers.call import Call
from app.ari_handlers.client import AriClient
from app.ari_handlers.models import SpeechRecognized, SpeechStarted
from app.asr.entities import Entity
from app.asr.live import Heard
from app.db import migrate
from app.db.models import CallRecord, WorkOrder
from app.db.session import Database
from app.ivr.app import ivr_handler
from app.ivr.loader import parse_flow
from tests.fake_ari import FakeAri
from tests.unit.test_ivr_runner import StubVoice, eventually, kinds, wait_record

FLOW = """
flow: test
start: main
nodes:
  main:
    - menu:
        prompt: main_menu
        options: {"1": order, "2": refund, "5": complaint}
        speech_intents: {ticket_query: "1", refund: "2", complaint: "5"}
        timeout: 1
        on_fail: bye
  order:
    - collect: {prompt: enter_order_number, var: order_no, max_digits: 9, min_digits: 9,
                speech: order_no, timeout: 1, on_fail: bye}
    - collect: {prompt: enter_id_last4, var: id_last4, max_digits: 4, min_digits: 4,
                speech: digits, timeout: 1, on_fail: bye}
    - goto: bye
  refund:
    - goto: bye
  complaint:
    - record: {prompt: complaint_record, var: recording, max_seconds: 30}
    - work_order: {type: complaint, content: "投诉", recording_var: recording,
                   transcribe: true}
    - goto: bye
  bye:
    - hangup: normal
"""


class Voice(StubVoice):
    def prompt_text(self, prompt_id: str, lang: str) -> str:
        if prompt_id == "confirm_number":
            return "您说的是{digits}，对请按1"
        return "do you want {intent}?" if prompt_id == "confirm_intent" else \
            super().prompt_text(prompt_id, lang)


class ScriptedListening:
    def __init__(self, call: Call, heard: Heard | None) -> None:
        self.call = call
        self.task = asyncio.create_task(self._speak(heard))

    async def _speak(self, heard: Heard | None) -> None:
        if heard is None:
            return
        await asyncio.sleep(0.05)
        self.call.deliver(SpeechStarted(type="SpeechStarted", channel_id=self.call.id))
        await asyncio.sleep(0.05)
        self.call.deliver(SpeechRecognized(type="SpeechRecognized", channel_id=self.call.id,
                                           result=heard))

    async def close(self) -> None:
        self.task.cancel()


class ScriptedSpeech:
    """Says the next scripted utterance in each listening window (None: the caller is silent)."""

    def __init__(self) -> None:
        self.script: list[Heard | None] = []
        self.windows: list[dict[str, Any]] = []
        self.transcribed: list[str] = []
        self.voice = Voice()  # the call's voice: what it was asked to say
        self.prepared: list[str] = []

    async def prepare(self, call: Call) -> None:
        self.prepared.append(call.id)

    def listen(self, call: Call, *, intent: bool = True, entities: bool = False,
               expect: str | None = None) -> ScriptedListening:
        self.windows.append({"intent": intent, "entities": entities, "expect": expect})
        return ScriptedListening(call, self.script.pop(0) if self.script else None)

    async def transcribe_recording(self, name: str) -> str:
        self.transcribed.append(name)
        return "列车员态度很差"


@pytest.fixture
async def env(tmp_path: Path) -> AsyncIterator[tuple[FakeAri, AriClient, Database,
                                                      ScriptedSpeech]]:
    url = f"sqlite:///{tmp_path / 'ivr.db'}"
    await asyncio.to_thread(migrate.upgrade, url)
    db = Database(url)
    fake = FakeAri()
    await fake.start()
    speech = ScriptedSpeech()
    handler = ivr_handler(parse_flow(FLOW), db, speech.voice, lambda: speech)  # type: ignore[arg-type,return-value]
    client = AriClient(fake.base_url, "hotline", "u", "p", handler)
    client.start()
    await asyncio.wait_for(fake.connected.wait(), 5)
    yield fake, client, db, speech
    await client.stop()
    await fake.stop()
    await db.dispose()


def prompts_so_far(client: AriClient, call_id: str) -> list[str]:
    trace = client.recent.get(call_id)
    return [s["prompt"] for s in trace.steps if s["kind"] == "prompt"] if trace else []


def details(record: CallRecord, kind: str) -> list[dict[str, Any]]:
    return [s.detail for s in record.steps if s.kind == kind]


async def test_a_spoken_request_chooses_the_option(env: tuple) -> None:  # type: ignore[type-arg]
    fake, _, db, speech = env
    fake.play_delay = 5  # the caller speaks over the prompt
    speech.script = [Heard("refund", 0.9, "我想退票")]
    await fake.start_call("s1")
    record = await wait_record(db, "s1")
    assert details(record, "choice") == [{"prompt": "main_menu", "key": "2", "to": "refund",
                                          "by": "speech"}]
    assert details(record, "interrupted")[0]["by"] == "speech"  # barge-in
    assert details(record, "speech")[0]["intent"] == "refund"
    assert speech.windows[0] == {"intent": True, "entities": False, "expect": None}


async def test_an_unsure_guess_is_confirmed_with_a_key(env: tuple) -> None:  # type: ignore[type-arg]
    fake, client, db, speech = env
    speech.script = [Heard("refund", 0.5, "我想退")]
    await fake.start_call("s2")
    await eventually(lambda: "confirm_intent" in prompts_so_far(client, "s2"))
    await fake.dtmf("s2", "1")
    record = await wait_record(db, "s2")
    assert details(record, "confirm") == [{"intent": "refund", "key": "1"}]
    assert details(record, "choice")[0]["to"] == "refund"


async def test_not_understood_says_so_and_listens_again(env: tuple) -> None:  # type: ignore[type-arg]
    fake, _, db, speech = env
    speech.script = [Heard("none", 0.9, "今天天气怎么样"), Heard("complaint", 0.95, "我要投诉")]
    await fake.start_call("s3")
    record = await wait_record(db, "s3")
    prompts = [d["prompt"] for d in details(record, "prompt")]
    assert prompts[:3] == ["main_menu", "not_heard", "main_menu"]
    assert details(record, "choice")[0]["to"] == "complaint"


async def test_spoken_numbers_fill_the_entry_steps(env: tuple) -> None:  # type: ignore[type-arg]
    fake, _, db, speech = env
    speech.script = [
        Heard("ticket_query", 0.9, "查订单"),
        Heard("none", 0.0, "订单号是E一二三四五六七八九",
              entities=[Entity("order_no", "E123456789")]),
        Heard("none", 0.0, "一零二四", entities=[Entity("digits", "1024")]),
    ]
    await fake.start_call("s4")
    record = await wait_record(db, "s4")
    assert details(record, "collected") == [
        {"var": "order_no", "digits": "123456789", "by": "speech"},
        {"var": "id_last4", "digits": "****", "by": "speech"}]
    # The spoken ID digits are personal data: not in the record.
    assert details(record, "speech")[-1]["transcript"] == "***"
    assert [w["expect"] for w in speech.windows] == [None, "order_no", "digits"]


async def read_back_unsure_order(env: tuple, call: str) -> None:  # type: ignore[type-arg]
    """A caller asks for an order and says its number unsurely (八 heard as 吧): the number
    is read back for confirmation."""
    fake, client, _, speech = env
    speech.script = [
        Heard("ticket_query", 0.9, "查订单"),
        Heard("none", 0.0, "二四六八零二四六吧",
              entities=[Entity("order_no", "E246802468", sure=False)]),
    ]
    await fake.start_call(call)
    await eventually(lambda: "confirm_number" in prompts_so_far(client, call), timeout=5)


async def test_an_unsure_number_is_read_back_and_taken_when_confirmed(env: tuple) -> None:  # type: ignore[type-arg]
    fake, client, db, speech = env
    await read_back_unsure_order(env, "s7")
    await fake.dtmf("s7", "1")
    await eventually(lambda: "enter_id_last4" in prompts_so_far(client, "s7"), timeout=5)
    await fake.hangup("s7")
    record = await wait_record(db, "s7")
    assert details(record, "collected")[0] == {"var": "order_no", "digits": "246802468",
                                               "by": "speech"}
    assert details(record, "confirm") == [{"var": "order_no", "key": "1"}]
    assert speech.voice.texts[-1] == "您说的是二四六八零二四六八，对请按1"


async def test_an_unsure_number_not_confirmed_is_asked_again(env: tuple) -> None:  # type: ignore[type-arg]
    fake, client, db, _ = env
    await read_back_unsure_order(env, "s8")
    await fake.dtmf("s8", "2")
    await eventually(lambda: prompts_so_far(client, "s8").count("enter_order_number") == 2,
                     timeout=5)
    await fake.hangup("s8")
    record = await wait_record(db, "s8")
    assert "collected" not in [s.kind for s in record.steps]
    assert details(record, "confirm") == [{"var": "order_no", "key": "2"}]
    assert details(record, "not_heard")[0]["prompt"] == "enter_order_number"


async def test_a_sure_number_is_not_read_back(env: tuple) -> None:  # type: ignore[type-arg]
    fake, client, db, speech = env
    speech.script = [Heard("ticket_query", 0.9, "查订单"),
                     Heard("none", 0.0, "二四六八零二四六八",
                           entities=[Entity("order_no", "E246802468")])]
    await fake.start_call("s9")
    await eventually(lambda: "enter_id_last4" in prompts_so_far(client, "s9"), timeout=5)
    await fake.hangup("s9")
    record = await wait_record(db, "s9")
    assert "confirm" not in [s.kind for s in record.steps]


async def test_a_spoken_number_of_the_wrong_shape_is_refused(env: tuple) -> None:  # type: ignore[type-arg]
    fake, _, db, speech = env
    speech.script = [Heard("ticket_query", 0.9, "查订单"),
                     Heard("none", 0.0, "E一二三", entities=[Entity("order_no", "E123")]),
                     Heard("none", 0.0, "嗯")]
    await fake.start_call("s5")
    record = await wait_record(db, "s5")
    assert details(record, "invalid")[0] == {"prompt": "enter_order_number", "digits": "123",
                                             "attempt": 1, "by": "speech"}
    assert details(record, "not_heard")[0]["attempt"] == 2
    assert "collected" not in [s.kind for s in record.steps]


async def test_silence_is_no_input_and_keys_still_work(env: tuple) -> None:  # type: ignore[type-arg]
    fake, client, db, _ = env
    await fake.start_call("s6")
    await eventually(lambda: "no_input" in kinds(client, "s6"), timeout=5)
    await fake.dtmf("s6", "2")
    record = await wait_record(db, "s6")
    assert details(record, "choice") == [{"prompt": "main_menu", "key": "2", "to": "refund"}]


async def test_a_message_is_transcribed_into_its_work_order(env: tuple) -> None:  # type: ignore[type-arg]
    fake, _, db, speech = env
    speech.script = [Heard("complaint", 0.9, "我要投诉")]
    await fake.start_call("s7")
    await wait_record(db, "s7")
    async with db.session() as session:
        wo = (await session.scalars(select(WorkOrder))).one()
    assert wo.content == "投诉\n语音转写：列车员态度很差"
    assert speech.transcribed and wo.recording == f"recording/{speech.transcribed[0]}.wav"
