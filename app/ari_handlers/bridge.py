"""Bridges a call owns: holding (music, waiting) and mixing (talk, listening taps, recording).

Every bridge is claimed by its call as it is made, so its events reach that call's task, and is
destroyed by whoever made it; a bridge already gone (the PBX restarted, a race with the caller's
hang-up) is not an error at teardown.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from app.ari_handlers.models import LiveRecording
from app.ari_handlers.rest import AriError

if TYPE_CHECKING:
    from app.ari_handlers.call import Call

log = logging.getLogger(__name__)


class Bridge:
    def __init__(self, call: Call, bridge_id: str, kind: str) -> None:
        self.call = call
        self.id = bridge_id
        self.kind = kind
        self.destroyed = False

    @classmethod
    async def create(cls, call: Call, kind: str = "mixing", name: str = "") -> Bridge:
        """A new bridge whose events go to `call`. kind: mixing or holding."""
        made = await call.rest.create_bridge(kind, name=name)
        call.dispatcher.claim(made.id, call)
        return cls(call, made.id, kind)

    async def add(self, channel_id: str) -> None:
        await self.call.rest.add_channel(self.id, channel_id)

    async def remove(self, channel_id: str) -> None:
        await self.call.rest.remove_channel(self.id, channel_id)

    async def record(self, name: str, fmt: str = "wav", max_duration: int = 0,
                     if_exists: str = "fail") -> LiveRecording:
        """Record the bridge's mixed audio into the PBX spool's recording/NAME.FMT."""
        return await self.call.rest.record_bridge(self.id, name, fmt=fmt,
                                                  max_duration=max_duration,
                                                  if_exists=if_exists)

    async def destroy(self) -> None:
        if self.destroyed:
            return
        self.destroyed = True
        try:
            await self.call.rest.destroy_bridge(self.id)
        except AriError as exc:
            if exc.status != 404:
                log.warning("could not destroy bridge %s: %s", self.id, exc)
