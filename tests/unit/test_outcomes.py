"""Who ended a call decides its stored outcome: passengers are never blamed for our faults."""

from __future__ import annotations

import pytest

from app.ari_handlers.call import ended_by
from app.ari_handlers.models import ChannelDestroyed, ChannelGone, ChannelHangupRequest
from app.core.calltrace import CallTrace, EndedBy
from app.db.models import CallOutcome, QueueResult
from app.ivr.app import still_waiting
from app.services.outcomes import call_outcome, queue_result


@pytest.mark.parametrize(("ended_by", "expected"), [
    (EndedBy.SHUTDOWN, CallOutcome.PLATFORM_SHUTDOWN),
    (EndedBy.PBX_RESTART, CallOutcome.PBX_RESTART),
    (EndedBy.MEDIA_TIMEOUT, CallOutcome.MEDIA_TIMEOUT),
    (EndedBy.PLATFORM_RESTART, CallOutcome.PLATFORM_RESTART),
])
def test_a_fault_in_the_menu_or_the_queue_is_not_the_callers(ended_by: EndedBy,
                                                            expected: CallOutcome) -> None:
    assert call_outcome(CallOutcome.HUNG_UP_IN_MENU, ended_by, waiting=False) == expected
    assert call_outcome(CallOutcome.ABANDONED, ended_by, waiting=True) == expected
    assert call_outcome(CallOutcome.TRANSFERRED, ended_by, waiting=True) == expected


def test_the_callers_own_hang_up_stays_theirs() -> None:
    assert call_outcome(CallOutcome.HUNG_UP_IN_MENU, EndedBy.CALLER,
                        waiting=False) == CallOutcome.HUNG_UP_IN_MENU
    assert call_outcome(CallOutcome.ABANDONED, EndedBy.CALLER,
                        waiting=True) == CallOutcome.ABANDONED
    assert queue_result(EndedBy.CALLER) == QueueResult.ABANDONED


def test_a_served_caller_keeps_the_outcome() -> None:
    assert call_outcome(CallOutcome.SELF_SERVICE, EndedBy.SHUTDOWN,
                        waiting=False) == CallOutcome.SELF_SERVICE
    # Talked to an agent, then the platform stopped: the call was transferred all the same.
    assert call_outcome(CallOutcome.TRANSFERRED, EndedBy.SHUTDOWN,
                        waiting=False) == CallOutcome.TRANSFERRED


def test_waits_cut_by_faults_have_their_own_queue_results() -> None:
    assert queue_result(EndedBy.MEDIA_TIMEOUT) == QueueResult.MEDIA_TIMEOUT
    assert queue_result(EndedBy.PBX_RESTART) == QueueResult.PBX_RESTART
    assert queue_result(EndedBy.SHUTDOWN) == QueueResult.ENDED_BY_PLATFORM


def test_still_waiting_reads_the_last_queue_visit() -> None:
    steps = [{"kind": k} for k in ("node", "enqueue", "queue")]
    assert still_waiting(steps)
    assert not still_waiting([*steps, {"kind": "agent_connected"}])
    assert not still_waiting([*steps, {"kind": "dequeued"}])
    assert still_waiting([*steps, {"kind": "dequeued"}, {"kind": "enqueue"}])
    assert not still_waiting([{"kind": "node"}])


def test_the_first_to_end_a_call_is_kept() -> None:
    trace = CallTrace(call_id="c1")
    trace.ended(EndedBy.AGENT, "agent hung up")
    trace.ended(EndedBy.PLATFORM, "hung up by hotline (normal)")
    assert trace.ended_by == EndedBy.AGENT
    assert trace.end_reason == "agent hung up"
    assert trace.as_dict()["ended_by"] == "agent"


def _hangup(**fields: object) -> ChannelHangupRequest:
    return ChannelHangupRequest.model_validate(
        {"type": "ChannelHangupRequest", "channel": {"id": "c1"}, **fields})


def test_the_hang_up_event_tells_who_ended_the_call() -> None:
    assert ended_by(_hangup())[0] == EndedBy.CALLER  # the caller's BYE
    # A stopping PBX hangs every channel up softly with its shutdown flag (1 << 2).
    assert ended_by(_hangup(soft=True, cause=4))[0] == EndedBy.PBX_RESTART
    assert ended_by(_hangup(soft=True, cause=32))[0] == EndedBy.CALLER
    gone = ChannelGone(type="ChannelGone", channel_id="c1")
    assert ended_by(gone)[0] == EndedBy.PBX_RESTART


def test_a_media_timeout_is_told_apart_from_a_bye() -> None:
    # The PBX's rtp_timeout: a soft hang-up with AST_SOFTHANGUP_DEV (1), Q.850 44 at the end.
    assert ended_by(_hangup(soft=True, cause=1))[0] == EndedBy.MEDIA_TIMEOUT
    destroyed = ChannelDestroyed.model_validate(
        {"type": "ChannelDestroyed", "channel": {"id": "c1"}, "cause": 44})
    assert ended_by(destroyed)[0] == EndedBy.MEDIA_TIMEOUT
    assert ended_by(_hangup(soft=True, cause=32))[0] == EndedBy.CALLER  # our own DELETE
