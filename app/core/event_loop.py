"""The event loop of an API-only node (`hotline api`).

uvloop when it is installed (a dependency) and not turned off: the same asyncio API on libuv,
with a fraction of the default loop's cost per socket read, write and wake-up; the busiest API
route spent more of its CPU in the loop than in its own code. HOTLINE_API_EVENT_LOOP=asyncio
selects the standard loop. `hotline serve` stays on the standard loop: under uvloop its
subprocess pipes (the voice workers) raise where asyncio's are quietly closed, and its calls'
timing-sensitive tests failed.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from typing import Any, Literal, TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")
LoopName = Literal["uvloop", "asyncio"]


def loop_factory(wanted: LoopName) -> tuple[LoopName, Callable[[], asyncio.AbstractEventLoop]]:
    """The loop to make: uvloop's if wanted and importable, else the standard one."""
    if wanted == "uvloop":
        try:
            import uvloop
        except ImportError:
            log.warning("uvloop is not installed: running on the standard asyncio loop")
        else:
            return "uvloop", uvloop.new_event_loop
    return "asyncio", asyncio.new_event_loop


def run(main: Coroutine[Any, Any, T], wanted: LoopName = "uvloop") -> T:
    """asyncio.run(main) on the chosen loop."""
    name, factory = loop_factory(wanted)
    log.debug("event loop: %s", name)
    with asyncio.Runner(loop_factory=factory) as runner:
        return runner.run(main)
