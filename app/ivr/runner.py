"""Run a flow on a call: each step over the call primitives, every step in the call record."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from app.ari_handlers.call import Call, CallHungUp
from app.ari_handlers.rest import AriError
from app.core.calltrace import EndedBy
from app.db.models import CallOutcome, Channel, QueueResult, WorkOrderType
from app.events import QueueJoined
from app.ivr.actions import ACTIONS
from app.ivr.context import CallContext
from app.ivr.model import (
    BranchStep,
    CollectStep,
    EnqueueStep,
    Flow,
    LookupStep,
    MenuStep,
    PlayStep,
    RecordStep,
    SayStep,
    Step,
    WorkOrderStep,
)
from app.services import call_records
from app.services.work_orders import create_work_order
from app.tts.say import zh_digits

if TYPE_CHECKING:
    from app.acd.waiting import QueueVisit

log = logging.getLogger(__name__)

VAR = re.compile(r"\$\{([a-z_][a-z0-9_]*)\}")
# Collected values that are personal data: kept for the lookup, masked in the call record.
SENSITIVE_VARS = {"id_last4"}
RESUME_NODE = "main"  # where a caller mid-menu is taken back after a restart of the platform
MAX_JUMPS = 500  # a flow that loops forever without the caller doing anything
ACCEPT_FROM = 0.6  # speech confidence taken as it is
CONFIRM_BELOW = 0.35  # below this: "not heard"; in between: ask the caller to confirm
INTENT_LABELS = {
    "zh": {"ticket_query": "车票查询", "refund": "退票", "change": "改签",
           "train_status": "列车正晚点查询", "lost_item": "失物招领", "complaint": "投诉建议",
           "assistance": "重点旅客服务", "agent": "人工服务"},
}
TRAIN_KEYS = {"G": "1", "D": "2", "K": "3", "Z": "4", "T": "5", "C": "6"}


def spoken_value(kind: str, entities: list[Any]) -> str | None:
    """What the caller said, as the keys they would have pressed for this step."""
    found = spoken_entity(kind, entities)
    return found[0] if found else None


def spoken_entity(kind: str, entities: list[Any]) -> tuple[str, bool] | None:
    """(keys, whether the recogniser is sure of them) for the first entity of this kind."""
    for entity in entities:
        if entity.kind != ("digits" if kind == "digits" else kind):
            continue
        value = str(entity.value)
        sure = bool(getattr(entity, "sure", True))
        if kind == "order_no":
            return (value[1:] if value.startswith("E") else value), sure
        if kind == "train_no":
            letter = TRAIN_KEYS.get(value[:1])
            return (letter + value[1:], sure) if letter else None
        return value, sure
    return None


def read_back(value: str, lang: str) -> str:
    """A value as the caller hears it read back: digit by digit (幺 for one in Mandarin)."""
    if lang == "zh":
        return zh_digits(value)
    return " ".join(value)


@dataclass(frozen=True)
class Jump:
    node: str


@dataclass(frozen=True)
class End:
    reason: str


class FlowRunner:
    def __init__(self, flow: Flow, call: Call, ctx: CallContext) -> None:
        self.flow = flow
        self.call = call
        self.ctx = ctx

    def expand(self, text: str) -> str:
        return VAR.sub(lambda m: self.ctx.vars.get(m.group(1), ""), text)

    async def run(self, start: str | None = None) -> None:
        try:
            await self._run(start)
        except (CallHungUp, asyncio.CancelledError):
            raise
        except Exception as exc:
            if isinstance(exc, AriError) and await self.call.gone():
                raise CallHungUp(self.call.id) from exc  # hung up while the request was sent
            # A failed step must not drop the caller: apologise and queue for an agent.
            log.exception("flow step failed; transferring to an agent")
            self.call.trace.step("error", error=type(exc).__name__)
            await self.recover()

    async def recover(self) -> None:
        self.ctx.vars.pop("answer", None)
        try:
            await self.say_prompt("technical_error", interrupt=False)
        except (CallHungUp, asyncio.CancelledError):
            raise
        except Exception:
            log.exception("could not play the technical error prompt")
        await self.enqueue(EnqueueStep(queue="general", reason="technical error"))
        self.ctx.outcome_reason = "technical error"

    async def _run(self, start: str | None = None) -> None:
        node: str | None = start or self.flow.start
        jumps = 0
        while node is not None:
            jumps += 1
            if jumps > MAX_JUMPS:
                raise RuntimeError(f"flow {self.flow.name} jumped {MAX_JUMPS} times")
            node = await self.run_node(node)

    async def run_node(self, name: str) -> str | None:
        self.call.trace.step("node", node=name)
        steps = self.flow.nodes[name]
        for index, step in enumerate(steps):
            try:
                result = await self.run_step(step)
            except CallHungUp:
                if step.kind == "record":
                    await self._finish_after_hangup(steps[index + 1 :])
                raise
            if isinstance(result, Jump):
                return result.node
            if isinstance(result, End):
                await self.call.hangup(result.reason)
                return None
        await self.call.hangup("normal")
        return None

    async def run_step(self, step: Step) -> Jump | End | None:
        a = step.args
        if step.kind == "goto":
            return Jump(str(a))
        if step.kind == "hangup":
            self.call.trace.step("hangup_by_flow", reason=str(a or "normal"))
            return End("normal")
        if step.kind == "set":
            for key, value in dict(a).items():
                self.ctx.vars[str(key)] = self.expand(
                    str(value).lower() if isinstance(value, bool) else str(value)
                )
            self.call.trace.step("set", **{str(k): str(v) for k, v in dict(a).items()})
            return None
        if isinstance(a, SayStep):
            await self.say(a, interrupt=a.barge_in)
            return None
        if isinstance(a, PlayStep):
            await self.call.play(a.media, interrupt_on_dtmf=True)
            return None
        if isinstance(a, MenuStep):
            return await self.menu(a)
        if isinstance(a, CollectStep):
            return await self.collect(a)
        if isinstance(a, LookupStep):
            return await self.lookup(a)
        if isinstance(a, BranchStep):
            value = self.ctx.vars.get(a.var, "")
            target = a.cases.get(value, a.default)
            self.call.trace.step("branch", var=a.var, value=value, to=target)
            return Jump(target)
        if isinstance(a, RecordStep):
            await self.say_prompt(a.prompt, interrupt=False)
            name = f"hotline-{self.call.id}-{uuid.uuid4().hex[:8]}"
            self.ctx.vars[a.var] = name
            recorded = await self.call.record(name, a.max_seconds)
            if recorded is None:
                self.ctx.vars.pop(a.var, None)
            return None
        if isinstance(a, WorkOrderStep):
            await self.work_order(a)
            return None
        if isinstance(a, EnqueueStep):
            return await self.enqueue(a)
        raise RuntimeError(f"step type {step.kind} has no runner")

    # --- speaking ---------------------------------------------------------------------------

    async def say_prompt(
        self, prompt_id: str, interrupt: bool = True, slots: dict[str, str] | None = None,
        speech: bool = False,
    ) -> str | None:
        """Play a catalog prompt; with slots, its text is filled and spoken at call time."""
        voice, lang = self.ctx.voice, self.ctx.lang
        if slots:
            text = voice.prompt_text(prompt_id, lang).format(
                **{k: self.expand(v) for k, v in slots.items()}
            )
            self.call.trace.step("prompt", prompt=prompt_id, lang=lang)
            return await self.speak(text, interrupt, speech)
        media = voice.prompt_media(prompt_id, lang)
        self.call.trace.step("prompt", prompt=prompt_id, lang=lang)
        result = await self.call.play(media, interrupt_on_dtmf=interrupt,
                                      interrupt_on_speech=speech)
        return result.interrupted_by

    async def speak(self, text: str, interrupt: bool = True, speech: bool = False) -> str | None:
        """Say text made at call time: each part plays as soon as it is made (the next one is
        made meanwhile); a key or speech that stops one part stops the rest."""
        async with contextlib.aclosing(self.ctx.voice.text_parts(text, self.ctx.lang)) as parts:
            async for media in parts:
                result = await self.call.play(media, interrupt_on_dtmf=interrupt,
                                              interrupt_on_speech=speech)
                if result.interrupted_by is not None:
                    return result.interrupted_by
        return None

    async def start_prompt(self, prompt_id: str) -> asyncio.Event:
        """Start a catalog prompt and return at once: set when it has been played."""
        media = self.ctx.voice.prompt_media(prompt_id, self.ctx.lang)
        self.call.trace.step("prompt", prompt=prompt_id, lang=self.ctx.lang)
        return await self.call.play_in_background(media)

    async def say(self, a: SayStep, interrupt: bool = True) -> None:
        if a.prompt is not None:
            await self.say_prompt(a.prompt, interrupt, a.slots or None)
            return
        text = self.expand(a.text or "")
        if not text.strip():
            return
        self.call.trace.step("speak", lang=self.ctx.lang, chars=len(text))
        await self.speak(text, interrupt)

    # --- input ------------------------------------------------------------------------------

    async def menu(self, a: MenuStep) -> Jump:
        failures = 0
        speech = bool(a.speech_intents) and self.ctx.listens
        while failures < a.retries:
            got = await self._prompt_and_wait(a.prompt, a.timeout, speech)
            if got is None:
                failures += 1
                self.call.trace.step("no_input", prompt=a.prompt, attempt=failures)
                if failures < a.retries:
                    await self.say_prompt(a.no_input_prompt)
                continue
            if not isinstance(got, str):
                key, retry_quietly = await self.understood(a, got)
                if key is not None:
                    self.call.trace.step("choice", prompt=a.prompt, key=key, to=a.options[key],
                                         by="speech")
                    return Jump(a.options[key])
                failures += 1
                if failures < a.retries and not retry_quietly:
                    await self.say_prompt(a.not_heard_prompt)
                continue
            key = got
            if key == "*":
                self.call.trace.step("repeat", prompt=a.prompt)
                continue
            if key in a.options:
                self.call.trace.step("choice", prompt=a.prompt, key=key, to=a.options[key])
                return Jump(a.options[key])
            failures += 1
            self.call.trace.step("invalid", prompt=a.prompt, key=key, attempt=failures)
            self.call.flush_digits()  # what follows a wrong key is not meant for this menu
            if failures < a.retries:
                await self.say_prompt(a.invalid_prompt)
        self.call.trace.step("too_many_failures", prompt=a.prompt, to=a.on_fail)
        return Jump(a.on_fail)

    async def _prompt_and_wait(self, prompt: str, timeout: float, speech: bool,
                               expect: str | None = None) -> Any:
        """Play the prompt and wait for a key or, when listening, an utterance."""
        if not speech:
            if not self.call.digits:
                await self.say_prompt(prompt)
            return await self.call.wait_digit(timeout)
        assert self.ctx.speech is not None
        if self.call.digits:  # typed ahead: nothing to listen for
            return self.call.digits.popleft()
        listening = self.ctx.speech.listen(self.call, intent=expect is None,
                                           entities=expect is not None, expect=expect)
        try:
            await self.say_prompt(prompt, speech=True)
            return await self.call.wait_input(timeout)
        finally:
            await listening.close()

    async def understood(self, a: MenuStep, heard: Any) -> tuple[str | None, bool]:
        """(the option the caller asked for, or None; whether to retry without 'not heard')."""
        self.call.trace.step("speech", intent=heard.intent,
                             confidence=round(heard.confidence, 3), transcript=heard.transcript,
                             seconds=round(heard.audio_seconds, 2), latency_ms=heard.latency_ms)
        key = a.speech_intents.get(heard.intent)
        if key is None or heard.confidence < CONFIRM_BELOW:
            return None, False
        if heard.confidence >= ACCEPT_FROM:
            return key, False
        label = INTENT_LABELS.get(self.ctx.lang, {}).get(heard.intent, heard.intent)
        await self.say_prompt(a.confirm_prompt, slots={"intent": label})
        answer = await self.call.wait_digit(6)
        self.call.trace.step("confirm", intent=heard.intent, key=answer)
        return (key, False) if answer == "1" else (None, answer == "2")

    async def collect(self, a: CollectStep) -> Jump | None:
        secret = a.var in SENSITIVE_VARS
        if secret:
            # The digits and a terminator may have been typed already.
            self.call.hide_keys(True, typed_ahead=a.max_digits + 1)
        try:
            return await self._collect(a)
        finally:
            if secret:
                self.call.hide_keys(False)

    async def _collect(self, a: CollectStep) -> Jump | None:
        failures = 0
        pattern = re.compile(a.pattern) if a.pattern else None
        speech = a.speech is not None and self.ctx.listens
        while failures < a.retries:
            by = "keys"
            if speech:
                assert a.speech is not None
                got = await self._prompt_and_wait(a.prompt, a.timeout, True, expect=a.speech)
                if got is None:
                    digits = ""
                elif isinstance(got, str):
                    # The first key of a typed entry: the rest is typed as usual.
                    self.call.digits.appendleft(got)
                    digits = await self.call.collect(
                        a.max_digits, a.terminator, a.inter_digit_timeout,
                        a.inter_digit_timeout)
                else:
                    by = "speech"
                    self.call.trace.step(
                        "speech", seconds=round(got.audio_seconds, 2),
                        latency_ms=got.latency_ms,
                        entities=[e.kind for e in got.entities],
                        # What was said for a personal value stays out of the record.
                        transcript="***" if a.var in SENSITIVE_VARS else got.transcript)
                    found = spoken_entity(a.speech, got.entities)
                    digits, sure = found if found else ("", True)
                    if digits and not sure and not await self._confirmed(a, digits):
                        digits = ""  # read back and not confirmed: ask again
                    if not digits:
                        failures += 1
                        self.call.trace.step("not_heard", prompt=a.prompt, attempt=failures)
                        if failures < a.retries:
                            await self.say_prompt(a.not_heard_prompt)
                        continue
            else:
                if not self.call.digits:
                    await self.say_prompt(a.prompt)
                digits = await self.call.collect(
                    a.max_digits, a.terminator, a.timeout, a.inter_digit_timeout
                )
            shown = "*" * len(digits) if a.var in SENSITIVE_VARS else digits
            if not digits:
                failures += 1
                self.call.trace.step("no_input", prompt=a.prompt, attempt=failures)
                if failures < a.retries:
                    await self.say_prompt(a.no_input_prompt)
                continue
            if (len(digits) < a.min_digits or len(digits) > a.max_digits
                    or (pattern and not pattern.fullmatch(digits))):
                failures += 1
                self.call.trace.step("invalid", prompt=a.prompt, digits=shown, attempt=failures,
                                     by=by)
                self.call.flush_digits()
                if failures < a.retries:
                    await self.say_prompt(a.invalid_prompt)
                continue
            self.ctx.vars[a.var] = digits
            self.call.trace.step("collected", var=a.var, digits=shown, by=by)
            return None
        self.call.trace.step("too_many_failures", prompt=a.prompt, to=a.on_fail)
        return Jump(a.on_fail)

    async def _confirmed(self, a: CollectStep, digits: str) -> bool:
        """Read back a value heard with weak evidence: 1 confirms, anything else does not."""
        await self.say_prompt(a.confirm_prompt, slots={"digits": read_back(digits,
                                                                           self.ctx.lang)})
        answer = await self.call.wait_digit(6)
        self.call.trace.step("confirm", var=a.var, key=answer)
        if answer not in (None, "1", "2"):
            self.call.flush_digits()  # keys typed past the question are not an entry
        return answer == "1"

    # --- self-service -------------------------------------------------------------------

    async def lookup(self, a: LookupStep) -> Jump | None:
        action = ACTIONS[a.action]
        result = await action(self.ctx)
        self.ctx.vars.update(result.vars)
        self.call.trace.step(
            "lookup",
            action=a.action,
            found=result.found,
            **({"summary": result.summary} if result.summary else {}),
        )
        locked = result.verification == "locked"
        if result.verification is not None:
            # That a verification was entered and how it went; never what was entered.
            if result.verification == "failed":
                self.ctx.verification_failures += 1
            self.call.trace.step("verification", result=result.verification,
                                 failures=self.ctx.verification_failures)
            locked = locked or (a.tries is not None
                                and self.ctx.verification_failures >= a.tries)
        if result.found:
            self.ctx.done_self_service(a.action)
        if locked and a.on_locked:
            return Jump(a.on_locked)
        target = a.on_found if result.found else a.on_not_found
        return Jump(target) if target else None

    async def work_order(self, a: WorkOrderStep) -> None:
        recording = self.ctx.vars.get(a.recording_var) if a.recording_var else None
        content = self.expand(a.content)
        if a.transcribe and recording and self.ctx.speech is not None:
            transcript = await self.ctx.speech.transcribe_recording(recording)
            self.call.trace.step("transcribed", chars=len(transcript))
            if transcript:
                content += f"\n语音转写：{transcript}"
        async with self.ctx.db.session() as session:
            wo = await create_work_order(
                session,
                type=WorkOrderType(a.type),
                channel=Channel.VOICE,
                content=content,
                actor="ivr",
                caller_number=self.ctx.caller,
                call_id=self.call.id,
                priority=self.ctx.priority,
                recording=f"recording/{recording}.wav" if recording else None,
            )
            await session.commit()
            number = wo.number
        self.ctx.vars["work_order"] = number
        self.ctx.vars["work_order_spoken"] = " ".join(number)
        self.call.trace.step("work_order", number=number, type=a.type, recording=bool(recording))
        self.ctx.done_self_service(f"work order {a.type}")

    async def _finish_after_hangup(self, rest: list[Step]) -> None:
        """The caller hung up while leaving a message: still file what they recorded."""
        for step in rest:
            if isinstance(step.args, WorkOrderStep):
                await self.work_order(step.args)

    async def resume(self) -> None:
        """The platform restarted under this call (its first task is gone): a caller talking
        to an agent goes on talking, one waiting for an agent goes back to the queue with the
        place they had, one in the menu hears an apology and is back in the main menu."""
        from app.acd import records
        from app.acd.waiting import QueueVisit

        ctx, call = self.ctx, self.call
        left = await records.left_behind(ctx.db, call.id) if ctx.acd is not None else None
        if left is not None:
            ctx.queue = left.queue
            if left.priority:
                ctx.vars["priority"] = "true"
            ctx.outcome, ctx.outcome_reason = CallOutcome.TRANSFERRED, left.reason
        if call.talk is not None and left is not None and left.agent and left.leg_id:
            assert ctx.acd is not None
            visit = QueueVisit(ctx.acd, call, left.queue, left.entry_id, self.say_prompt,
                               ctx.vars, ctx.lang, ctx.priority)
            await visit.resume_talk(left.agent, left.leg_id, call.talk)
            if visit.transfer is not None:  # transferred to a queue after the restart
                ended, queue = await self._follow_transfers(visit)
                target = self._message_node(queue, None)
                if ended == QueueResult.MESSAGE and target:
                    await self.run(target)
                    return
            await call.hangup("normal")
            return
        if call.talk is not None:  # bridged to an agent leg nothing knows of: end that leg
            await call.rest.hangup(call.talk.agent_channel)
            call.talk = None
        if left is not None and left.waiting:
            await self.say_prompt("queue_resumed", interrupt=False)
            step = next((s.args for node in self.flow.nodes.values() for s in node
                         if isinstance(s.args, EnqueueStep) and s.args.queue == left.queue),
                        EnqueueStep(queue=left.queue, reason=left.reason))
            call.trace.step("enqueue", queue=left.queue, reason=left.reason, resumed=True)
            result = await self._queue_for_agent(step, left.entry_id, left.entered_at)
            if isinstance(result, Jump):
                await self.run(result.node)
            else:
                await call.hangup(result.reason)
            return
        ctx.outcome = CallOutcome.HUNG_UP_IN_MENU
        await self.say_prompt("service_resumed", interrupt=False)
        await self.run(RESUME_NODE if RESUME_NODE in self.flow.nodes else None)

    async def agents_closed(self) -> End | Jump:
        """No agent outside hours: say so and go back to self-service once; the second time
        the call ends (a caller who only wants an agent is not led round in circles)."""
        told = self.ctx.vars.get("agents_closed_told") == "true"
        self.call.trace.step("agents_closed", mode=self.ctx.vars.get("mode", ""))
        await self.say_prompt("agents_closed", interrupt=False)
        self.ctx.outcome_reason = "agents closed"
        if told:
            return End("agents closed")
        self.ctx.vars["agents_closed_told"] = "true"
        return Jump(self.flow.start)

    async def _queue_for_agent(self, a: EnqueueStep, entry_id: int,
                               entered: float | None = None) -> End | Jump:
        """The ACD takes the caller to an agent (or a callback, or a message)."""
        from app.acd.waiting import QueueVisit

        assert self.ctx.acd is not None
        visit = QueueVisit(self.ctx.acd, self.call, a.queue, entry_id, self.say_prompt,
                           self.ctx.vars, self.ctx.lang, self.ctx.priority, entered,
                           start=self.start_prompt)
        try:
            result = await visit.run()
        except CallHungUp:
            self.ctx.outcome = CallOutcome.ABANDONED
            raise
        finally:
            self.ctx.queue_entry_id = None  # the visit closed it and said so on the feed
        self.call.trace.step("dequeued", queue=a.queue, result=result.value)
        if visit.transfer is not None:
            # Transferred by an agent: where the caller ended up decides what comes next.
            result, queue = await self._follow_transfers(visit)
            target = self._message_node(queue, a)
            if result == QueueResult.MESSAGE and target:
                return Jump(target)
            return End("normal")
        if result == QueueResult.MESSAGE and a.on_message:
            self.ctx.outcome = CallOutcome.SELF_SERVICE
            return Jump(a.on_message)
        if result in (QueueResult.CALLBACK, QueueResult.NO_AGENTS, QueueResult.MESSAGE):
            self.ctx.outcome_reason = result.value  # still TRANSFERRED: handed to the queue
        return End("normal")

    def _message_node(self, queue: str, fallback: EnqueueStep | None) -> str | None:
        """Where a caller who chose to leave a message in `queue` goes: the message node of
        the flow's step for that queue, else the one of the step the caller came through."""
        step = next((s.args for node in self.flow.nodes.values() for s in node
                     if isinstance(s.args, EnqueueStep) and s.args.queue == queue
                     and s.args.on_message), fallback)
        return step.on_message if step is not None else None

    async def _follow_transfers(self, visit: QueueVisit) -> tuple[QueueResult, str]:
        """An agent transferred the caller to a queue: the caller waits there (a new entry,
        the same call record and recording) for the next agent, as often as agents transfer
        it on. Ends when the caller's last talk or wait does: (how it ended, in which queue)."""
        from app.acd import records
        from app.acd.waiting import QueueVisit

        acd = self.ctx.acd
        assert acd is not None
        result, queue = QueueResult.CONNECTED, visit.queue
        try:
            while (moved := visit.transfer) is not None:
                entry_id = await records.transfer_entry(
                    self.ctx.db, self.call.id, moved.queue, self.ctx.priority,
                    moved.from_leg_id, moved.by_agent)
                self.ctx.queue, self.ctx.queue_entry_id = moved.queue, entry_id
                self.ctx.events.publish(QueueJoined(call_id=self.call.id, queue=moved.queue,
                                                    priority=self.ctx.priority,
                                                    entry_id=entry_id))
                self.call.trace.step("enqueue", queue=moved.queue,
                                     reason=f"transfer from {moved.by_agent}",
                                     priority=self.ctx.priority)
                visit = QueueVisit(acd, self.call, moved.queue, entry_id, self.say_prompt,
                                   self.ctx.vars, self.ctx.lang, self.ctx.priority,
                                   transferred=True)
                try:
                    result = await visit.run()
                finally:
                    self.ctx.queue_entry_id = None
                self.call.trace.step("dequeued", queue=moved.queue, result=result.value)
                queue = moved.queue
                if result != QueueResult.CONNECTED:
                    break  # a callback, a message or no agents: the talk with agents ends
        finally:
            if acd.recorder is not None:  # the recording went on across the transfers
                acd.recorder.stop(self.call.id,
                                  partial=self.call.trace.ended_by == EndedBy.PBX_RESTART)
        return result, queue

    async def enqueue(self, a: EnqueueStep) -> End | Jump:
        if self.ctx.vars.get("open") == "false":  # outside agents' hours (business_hours AGI)
            return await self.agents_closed()
        reason = self.expand(a.reason)
        async with self.ctx.db.session() as session:
            entry = await call_records.enter_queue(
                session, self.call.id, a.queue, self.ctx.priority, reason
            )
            await session.commit()
            self.ctx.queue_entry_id = entry.id
        self.ctx.queue = a.queue
        center = self.ctx.acd.rules.center_for(self.call.trace.called, self.call.trace.caller) \
            if self.ctx.acd is not None else None
        self.ctx.events.publish(QueueJoined(call_id=self.call.id, queue=a.queue,
                                            priority=self.ctx.priority, entry_id=entry.id,
                                            center=center))
        self.ctx.outcome = CallOutcome.TRANSFERRED
        self.ctx.outcome_reason = reason
        self.call.trace.step("enqueue", queue=a.queue, reason=reason, priority=self.ctx.priority)
        if self.ctx.acd is not None:
            return await self._queue_for_agent(a, entry.id)
        hold_media = self.ctx.voice.prompt_media(a.hold_prompt, self.ctx.lang)
        try:
            await self.call.hold(hold_media, a.hold_prompt_every, a.max_wait)
        except CallHungUp:
            self.ctx.outcome = CallOutcome.ABANDONED
            raise
        return End("normal")
