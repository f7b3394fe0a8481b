"""Keys as the caller pressed them, without the second copies Asterisk publishes.

Asterisk 22 (main/channel.c, __ast_read) publishes ChannelDtmfReceived for a key's end as soon
as it reads it, and then decides what to do with it. While it is still playing out the key
before (DTMF emulation: a key that came without its begin, or shorter on the wire than
`mindtmfduration`) or less than 45 ms (AST_MIN_DTMF_GAP) after it, it puts the key back on
the channel's read queue and reads it again later, publishing the same event a second time.
Fast typing in a silent menu (no prompt playing) thus turned ten keys into up to seventeen.

The copy carries the same digit and duration and comes within the inter-digit gap of the key
before it; a real second press of the same key cannot end before its own full tone plus a
pause after the first (ITU-T Q.24: at least 40 ms each). So an event equal to a recent one
and closer to it than that one's duration plus SLACK_MS is the copy, and is dropped once.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from datetime import datetime, timedelta

from app.ari_handlers.models import ChannelDtmfReceived

SLACK_MS = 20  # less than the shortest pause between two real presses (40 ms)
MEMORY = timedelta(seconds=2)  # copies come well within this


@dataclass
class _Press:
    digit: str
    duration_ms: int
    at: datetime


class RepeatedKeyFilter:
    """One per call: says which ChannelDtmfReceived events are Asterisk's second copies."""

    def __init__(self) -> None:
        self._recent: deque[_Press] = deque()

    def is_copy(self, event: ChannelDtmfReceived) -> bool:
        at, duration = event.timestamp, event.duration_ms
        if at is None or duration <= 0:  # nothing to judge by: take the key
            return False
        while self._recent and at - self._recent[0].at > MEMORY:
            self._recent.popleft()
        window = timedelta(milliseconds=duration + SLACK_MS)
        for press in self._recent:
            if (press.digit == event.digit and press.duration_ms == duration
                    and timedelta(0) <= at - press.at < window):
                self._recent.remove(press)  # each press has at most one copy
                return True
        self._recent.append(_Press(event.digit, duration, at))
        return False
