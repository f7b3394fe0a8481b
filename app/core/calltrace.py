"""What happened in each call, kept in memory for live views and tests."""

from __future__ import annotations

import enum
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

# What a hidden key shows in the trace and the call record (verification digits).
SECRET_KEY = "*"


class EndedBy(enum.StrEnum):
    """Who or what ended a call: statistics count only the callers' own hang-ups as theirs."""

    CALLER = "caller"
    AGENT = "agent"
    PLATFORM = "platform"  # the menu finished and said goodbye
    SHUTDOWN = "platform_shutdown"  # the platform was stopped (SIGTERM, Ctrl-C)
    PLATFORM_RESTART = "platform_restart"  # the platform died; found ended when it came back
    PBX_RESTART = "pbx_restart"  # the PBX went away under the call
    MEDIA_TIMEOUT = "media_timeout"  # the caller's audio stopped (no BYE)
    ERROR = "error"


# Ends that are the platform's or the network's doing, not the passenger's choice.
NOT_THE_CALLER = frozenset({EndedBy.SHUTDOWN, EndedBy.PLATFORM_RESTART, EndedBy.PBX_RESTART,
                            EndedBy.MEDIA_TIMEOUT, EndedBy.ERROR})


@dataclass
class CallTrace:
    call_id: str
    caller: str = ""
    called: str = ""
    sip_call_id: str = ""
    started_at: float = field(default_factory=time.time)
    answered_at: float | None = None
    ended_at: float | None = None
    end_reason: str = ""
    ended_by: EndedBy | None = None
    node: str | None = None  # the platform node carrying the call (HOTLINE_INSTANCE)
    steps: list[dict[str, Any]] = field(default_factory=list)

    def ended(self, by: EndedBy, reason: str = "") -> None:
        """Note who ended the call; the first to notice wins (later hang-ups are echoes)."""
        if self.ended_by is None:
            self.ended_by = by
        self.end_reason = self.end_reason or reason

    def step(self, kind: str, **detail: Any) -> None:
        self.steps.append({"t": round(time.time(), 3), "kind": kind, **detail})

    def hide_pending_keys(self, pending: list[str], count: int) -> None:
        """Hide the value of the first `count` keys typed ahead (pending: unread, oldest first).

        The unread keys are the newest dtmf steps: matched from the newest backwards.
        """
        dtmf = [s for s in self.steps if s["kind"] == "dtmf"]
        index = len(dtmf)
        found: list[dict[str, Any]] = []
        for digit in reversed(pending):
            index -= 1
            while index >= 0 and dtmf[index]["digit"] != digit:
                index -= 1  # a key taken out of order (e.g. the # that ended a recording)
            if index < 0:
                break
            found.append(dtmf[index])
        for step in list(reversed(found))[:count]:
            step["digit"] = SECRET_KEY
            step["hidden"] = True

    @property
    def digits(self) -> str:
        return "".join(s["digit"] for s in self.steps if s["kind"] == "dtmf")

    def as_dict(self) -> dict[str, Any]:
        return {
            "call_id": self.call_id, "caller": self.caller, "called": self.called,
            "sip_call_id": self.sip_call_id, "started_at": self.started_at,
            "answered_at": self.answered_at, "ended_at": self.ended_at,
            "active": self.ended_at is None, "end_reason": self.end_reason,
            "ended_by": self.ended_by.value if self.ended_by else None,
            "digits": self.digits, "steps": list(self.steps),
        }


class RecentCalls:
    """Live calls and the most recent finished ones (bounded)."""

    def __init__(self, keep: int = 1000) -> None:
        self.keep = keep
        self._calls: OrderedDict[str, CallTrace] = OrderedDict()

    def add(self, trace: CallTrace) -> None:
        self._calls[trace.call_id] = trace
        while len(self._calls) > self.keep:
            oldest = next(iter(self._calls))
            if self._calls[oldest].ended_at is None:
                break
            self._calls.popitem(last=False)

    def get(self, call_id: str) -> CallTrace | None:
        return self._calls.get(call_id)

    def all(self) -> list[CallTrace]:
        return list(self._calls.values())

    def active(self) -> list[CallTrace]:
        return [c for c in self._calls.values() if c.ended_at is None]
