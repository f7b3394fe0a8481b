"""What a running flow knows: variables, language, outcome, and the services it may use."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from app.db.models import CallOutcome
from app.db.session import Database
from app.events import EventFeed
from app.services.throttle import LookupThrottle

if TYPE_CHECKING:
    from app.acd.waiting import Acd
    from app.ivr.listening import CallerSpeech


class Voice(Protocol):
    """How prompts and dynamic answers become media the PBX can play."""

    def prompt_media(self, prompt_id: str, lang: str) -> str: ...

    def prompt_text(self, prompt_id: str, lang: str) -> str: ...

    def text_parts(self, text: str, lang: str) -> AsyncGenerator[str, None]:
        """Media for text in parts, played one after the other (the first as soon as it
        is made)."""
        ...


@dataclass
class CallContext:
    db: Database
    voice: Voice
    call_id: str
    caller: str
    vars: dict[str, str] = field(default_factory=dict)
    outcome: CallOutcome = CallOutcome.HUNG_UP_IN_MENU
    outcome_reason: str | None = None
    queue_entry_id: int | None = None
    queue: str | None = None
    speech: CallerSpeech | None = None  # None: keys only (no model installed)
    events: EventFeed = field(default_factory=EventFeed)
    acd: Acd | None = None  # None: queued callers only hold (no agents on this node)
    throttle: LookupThrottle = field(default_factory=LookupThrottle)
    verification_failures: int = 0  # failed order verifications in this call

    @property
    def listens(self) -> bool:
        # Only a Mandarin model exists: English callers use their keypad.
        return self.speech is not None and self.lang == "zh"

    @property
    def lang(self) -> str:
        return self.vars.get("lang", "zh")

    @property
    def priority(self) -> bool:
        return self.vars.get("priority") == "true"

    def done_self_service(self, what: str) -> None:
        # A transfer later in the call still wins: the caller needed an agent in the end.
        if self.outcome not in (CallOutcome.TRANSFERRED, CallOutcome.ABANDONED):
            self.outcome = CallOutcome.SELF_SERVICE
            self.outcome_reason = what
