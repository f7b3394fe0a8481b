"""The flow language: menus and self-service flows as YAML, validated with pydantic.

A flow is a set of named nodes; a node is a list of steps run in order. A step is a mapping
with one key, the step type:

  say:      prompt id, or {prompt: id, slots: {...}} or {text: "${var}"} (spoken at call time)
  play:     an Asterisk media URI (sound:beep)
  menu:     {prompt, options: {"1": node, ...}, timeout, retries, on_fail}; "*" repeats
  collect:  {prompt, var, max_digits, min_digits, terminator, timeout, retries, on_fail, pattern}
  lookup:   {action, on_found, on_not_found, tries, on_locked}: a self-service action (see
            actions.py); verifying ones go to on_locked after `tries` failures in the call
  branch:   {var, cases: {value: node}, default}
  record:   {prompt, var, max_seconds}: a voice message after a beep (# ends it)
  work_order: {type, content, recording_var}: open a work order, its number in ${work_order}
  enqueue:  {queue, reason}: hold for an agent (music on hold, periodic prompt)
  set:      {var: value, ...}; `lang` switches the language
  goto:     node
  hangup:   reason
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

NodeName = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$")]
KEYS = set("0123456789*#")


class StepModel(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SayStep(StepModel):
    prompt: str | None = None
    text: str | None = None
    slots: dict[str, str] = Field(default_factory=dict)
    barge_in: bool = True

    @model_validator(mode="after")
    def one_source(self) -> SayStep:
        if (self.prompt is None) == (self.text is None):
            raise ValueError("say needs exactly one of prompt or text")
        return self


class PlayStep(StepModel):
    media: str


class MenuStep(StepModel):
    prompt: str
    options: dict[str, NodeName]
    # Spoken intents that choose an option, e.g. {refund: "2"} (Mandarin calls only).
    speech_intents: dict[str, str] = Field(default_factory=dict)
    confirm_prompt: str = "confirm_intent"
    not_heard_prompt: str = "not_heard"
    timeout: float = Field(5.0, gt=0, le=60)
    retries: int = Field(3, ge=1, le=10)
    on_fail: NodeName
    invalid_prompt: str = "invalid_input"
    no_input_prompt: str = "no_input"

    @field_validator("options")
    @classmethod
    def keys_are_keys(cls, options: dict[str, str]) -> dict[str, str]:
        bad = [k for k in options if len(k) != 1 or k not in KEYS]
        if bad:
            raise ValueError(f"menu option keys must be single keys 0-9 * #, not {bad}")
        return options

    @model_validator(mode="after")
    def intents_choose_options(self) -> MenuStep:
        bad = {i: k for i, k in self.speech_intents.items() if k not in self.options}
        if bad:
            raise ValueError(f"speech_intents point at keys that are not options: {bad}")
        return self


class CollectStep(StepModel):
    prompt: str
    var: str
    max_digits: int = Field(ge=1, le=32)
    min_digits: int = Field(1, ge=0, le=32)
    terminator: Literal["#", "*", ""] = "#"
    timeout: float = Field(6.0, gt=0, le=60)
    inter_digit_timeout: float = Field(4.0, gt=0, le=30)
    retries: int = Field(3, ge=1, le=10)
    on_fail: NodeName
    pattern: str | None = None
    invalid_prompt: str = "invalid_input"
    no_input_prompt: str = "no_input"
    not_heard_prompt: str = "not_heard"
    # Read back a spoken value heard with weak evidence; slot {digits}.
    confirm_prompt: str = "confirm_number"
    # The caller may also say it: which entity to take from what they said (Mandarin calls).
    speech: Literal["order_no", "train_no", "digits"] | None = None

    @field_validator("pattern")
    @classmethod
    def compiles(cls, pattern: str | None) -> str | None:
        if pattern is not None:
            re.compile(pattern)
        return pattern


class LookupStep(StepModel):
    action: str
    on_found: NodeName | None = None
    on_not_found: NodeName | None = None
    # Look-ups that verify the caller: after `tries` failed verifications in this call, or
    # while the order is locked by the throttle, go to on_locked instead (e.g. an agent).
    tries: int | None = Field(None, ge=1, le=10)
    on_locked: NodeName | None = None

    @model_validator(mode="after")
    def tries_need_a_target(self) -> LookupStep:
        if self.tries is not None and self.on_locked is None:
            raise ValueError("lookup with tries needs on_locked (where the caller goes then)")
        return self


class BranchStep(StepModel):
    var: str
    cases: dict[str, NodeName]
    default: NodeName


class RecordStep(StepModel):
    prompt: str
    var: str
    max_seconds: int = Field(60, ge=1, le=600)


class WorkOrderStep(StepModel):
    type: Literal["consultation", "complaint", "help", "lost_item", "praise", "suggestion"]
    content: str
    recording_var: str | None = None
    transcribe: bool = False  # add the message's transcript to the work order


class EnqueueStep(StepModel):
    queue: str = "general"
    reason: str
    hold_prompt: str = "please_hold"
    hold_prompt_every: float = Field(20.0, ge=3, le=600)
    max_wait: float = Field(1800.0, ge=5, le=7200)
    # Where a caller who chose to leave a message instead of waiting goes (a recording node).
    on_message: NodeName | None = None


STEP_TYPES: dict[str, type[StepModel]] = {
    "say": SayStep,
    "play": PlayStep,
    "menu": MenuStep,
    "collect": CollectStep,
    "lookup": LookupStep,
    "branch": BranchStep,
    "record": RecordStep,
    "work_order": WorkOrderStep,
    "enqueue": EnqueueStep,
}
SIMPLE_STEPS = {"goto", "hangup", "set"}


class Step(BaseModel):
    """One step: its type and its validated arguments."""

    kind: str
    args: Any
    line: int = 0

    def targets(self) -> list[str]:
        """Node names this step can jump to."""
        a = self.args
        if self.kind == "goto":
            return [a]
        if isinstance(a, MenuStep):
            return [*a.options.values(), a.on_fail]
        if isinstance(a, CollectStep):
            return [a.on_fail]
        if isinstance(a, LookupStep):
            return [n for n in (a.on_found, a.on_not_found, a.on_locked) if n]
        if isinstance(a, BranchStep):
            return [*a.cases.values(), a.default]
        if isinstance(a, EnqueueStep):
            return [a.on_message] if a.on_message else []
        return []


class Flow(BaseModel):
    name: str
    start: NodeName
    languages: list[Literal["zh", "en"]] = ["zh", "en"]
    nodes: dict[NodeName, list[Step]]
    source: str = ""
    node_lines: dict[str, int] = Field(default_factory=dict)
