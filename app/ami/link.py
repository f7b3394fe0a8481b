"""A panoramisk AMI connection that reconnects by itself and can be closed for good."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from panoramisk import Manager

log = logging.getLogger(__name__)


class _Manager(Manager):  # type: ignore[misc]
    closing = False

    def connect(self, *args: Any, **kwargs: Any) -> Any:
        # panoramisk schedules reconnects with call_later; none may start once we close.
        if self.closing:
            return None
        return super().connect(*args, **kwargs)


class AmiLink:
    def __init__(self, host: str, port: int, user: str, secret: str, reconnect: float = 1) -> None:
        self.manager = _Manager(
            host=host, port=port, username=user, secret=secret,
            ping_delay=5, ping_interval=5, reconnect_timeout=max(1, int(reconnect)),
            log=logging.getLogger("app.ami.panoramisk"),
        )
        logging.getLogger("app.ami.panoramisk").setLevel(logging.CRITICAL)

    @property
    def connected(self) -> bool:
        return bool(self.manager._connected and self.manager.authenticated)

    def start(self) -> None:
        self.manager.loop = asyncio.get_running_loop()
        self.manager.connect()

    async def stop(self) -> None:
        self.manager.closing = True
        self.manager.close()
        await asyncio.sleep(0)
