"""One WebSocket per Stasis app: parse events, hand them on, reconnect with capped backoff."""

from __future__ import annotations

import asyncio
import base64
import json
import logging
from collections.abc import Awaitable, Callable

import websockets
from pydantic import ValidationError

from app.ari_handlers.models import Event, parse_event

log = logging.getLogger(__name__)


class AriEventStream:
    def __init__(
        self,
        base_url: str,
        app: str,
        user: str,
        password: str,
        on_event: Callable[[Event], None],
        on_connect: Callable[[], Awaitable[None]] | None = None,
        backoff_initial: float = 0.5,
        backoff_max: float = 5.0,
    ) -> None:
        ws_base = base_url.replace("http://", "ws://").replace("https://", "wss://").rstrip("/")
        self.url = f"{ws_base}/events?app={app}&subscribeAll=false"
        token = base64.b64encode(f"{user}:{password}".encode()).decode()
        self._headers = {"Authorization": f"Basic {token}"}
        self._on_event = on_event
        self._on_connect = on_connect
        self.backoff_initial = backoff_initial
        self.backoff_max = backoff_max
        self.connected = asyncio.Event()
        self.connections = 0  # successful connects, for health and tests
        self.skipped = 0  # malformed events skipped
        self._task: asyncio.Task[None] | None = None
        self._sync_task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="ari-events")

    async def stop(self) -> None:
        for task in (self._sync_task, self._task):
            if task is not None and not task.done():
                task.cancel()
                try:
                    await task
                except asyncio.CancelledError:
                    pass
        self.connected.clear()

    async def _run(self) -> None:
        delay = self.backoff_initial
        while True:
            try:
                async with websockets.connect(
                    self.url, additional_headers=self._headers, open_timeout=5,
                    ping_interval=5, ping_timeout=5, max_size=2**22,
                ) as ws:
                    self.connections += 1
                    self.connected.set()
                    delay = self.backoff_initial
                    log.info("ARI events connected (%s)", self.url.split("?")[0])
                    if self._on_connect is not None:
                        # Re-sync runs beside the reader so no event is held up by it.
                        self._sync_task = asyncio.create_task(self._sync(), name="ari-resync")
                    async for message in ws:
                        self._handle(message)
                log.warning("ARI events closed by Asterisk")
            except asyncio.CancelledError:
                raise
            except (TimeoutError, OSError, websockets.WebSocketException) as exc:
                if self.connected.is_set():
                    log.warning("ARI events lost: %s", exc)
                else:
                    log.debug("ARI events connect failed: %s", exc)
            self.connected.clear()
            log.info("ARI events: reconnecting in %.1f s", delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, self.backoff_max)

    async def _sync(self) -> None:
        assert self._on_connect is not None
        try:
            await self._on_connect()
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("re-sync after connect failed")

    def _handle(self, message: str | bytes) -> None:
        try:
            event = parse_event(json.loads(message))
        except (ValueError, ValidationError) as exc:
            self.skipped += 1
            text = message if isinstance(message, str) else message.decode(errors="replace")
            log.warning("skipping malformed ARI event (%s): %.200s", _short(exc), text)
            return
        try:
            self._on_event(event)
        except Exception:
            log.exception("handling ARI event %s failed", event.type)


def _short(exc: Exception) -> str:
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__
