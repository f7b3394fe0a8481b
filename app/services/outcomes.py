"""How a call's ending is recorded: the caller's own hang-ups stay abandons, the platform's and
the network's failures get outcomes of their own, so statistics never blame passengers."""

from __future__ import annotations

from app.core.calltrace import NOT_THE_CALLER, EndedBy
from app.db.models import CallOutcome, QueueResult

_CALL_FAULTS = {
    EndedBy.SHUTDOWN: CallOutcome.PLATFORM_SHUTDOWN,
    EndedBy.PLATFORM_RESTART: CallOutcome.PLATFORM_RESTART,
    EndedBy.PBX_RESTART: CallOutcome.PBX_RESTART,
    EndedBy.MEDIA_TIMEOUT: CallOutcome.MEDIA_TIMEOUT,
    EndedBy.ERROR: CallOutcome.ERROR,
}
_QUEUE_FAULTS = {
    EndedBy.SHUTDOWN: QueueResult.ENDED_BY_PLATFORM,
    EndedBy.PLATFORM_RESTART: QueueResult.PLATFORM_RESTART,
    EndedBy.PBX_RESTART: QueueResult.PBX_RESTART,
    EndedBy.MEDIA_TIMEOUT: QueueResult.MEDIA_TIMEOUT,
    EndedBy.ERROR: QueueResult.ENDED_BY_PLATFORM,
}
# What the caller had not yet got when the call was cut: these yield to the fault.
_UNSERVED = (CallOutcome.HUNG_UP_IN_MENU, CallOutcome.ABANDONED)


def call_outcome(outcome: CallOutcome, ended_by: EndedBy | None, *, waiting: bool
                 ) -> CallOutcome:
    """The outcome to store. A caller served before the cut keeps that outcome; one still in
    the menu or still waiting for an agent (`waiting`) gets the fault's own outcome."""
    if ended_by not in NOT_THE_CALLER:
        return outcome
    unserved = outcome in _UNSERVED or (outcome == CallOutcome.TRANSFERRED and waiting)
    return _CALL_FAULTS[ended_by] if unserved else outcome


def queue_result(ended_by: EndedBy | None) -> QueueResult:
    """How a wait that ended in a hang-up is closed: abandoned only when the caller left."""
    if ended_by in NOT_THE_CALLER:
        return _QUEUE_FAULTS[ended_by]
    return QueueResult.ABANDONED
