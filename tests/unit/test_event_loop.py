"""An API-only node runs on uvloop unless told otherwise."""

from __future__ import annotations

import asyncio

import uvloop

from app.core import event_loop


async def loop_type() -> type:
    return type(asyncio.get_running_loop())


def test_uvloop_by_default() -> None:
    assert issubclass(event_loop.run(loop_type()), uvloop.Loop)


def test_the_standard_loop_on_request() -> None:
    kind = event_loop.run(loop_type(), "asyncio")
    assert not issubclass(kind, uvloop.Loop)
    assert issubclass(kind, asyncio.BaseEventLoop)


def test_settings_default_to_uvloop() -> None:
    from app.config import Settings

    assert Settings().api_event_loop == "uvloop"
