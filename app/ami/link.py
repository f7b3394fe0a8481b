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

    async def action(self, fields: dict[str, str], timeout: float = 5) -> dict[str, Any]:
        """Send one AMI action; its response's fields. AmiError when it is refused."""
        if not self.connected:
            raise AmiError(f"{fields.get('Action')}: AMI is not connected")
        resp = await asyncio.wait_for(self.manager.send_action(fields), timeout)
        if isinstance(resp, list):  # an action answered with events: the first is the response
            resp = resp[0] if resp else {}
        answer = dict(resp.items()) if hasattr(resp, "items") else {}
        if str(answer.get("Response", "")).lower() != "success":
            raise AmiError(f"{fields.get('Action')}: {answer.get('Message') or answer}")
        return answer


class AmiError(RuntimeError):
    """An AMI action was refused or could not be sent."""
