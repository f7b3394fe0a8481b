"""The ARI client as a whole: REST, the app's event stream and the per-call dispatcher."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from app.ari_handlers.dispatch import CallDispatcher, CallHandler
from app.ari_handlers.events import AriEventStream
from app.ari_handlers.rest import AriError, AriRest
from app.core.calltrace import RecentCalls

log = logging.getLogger(__name__)
SWEEP_EVERY = 20.0  # seconds between sweeps for unowned channels and bridges
SWEEP_MIN_AGE = 10.0  # younger ones may still be on their way to their owner


class AriClient:
    def __init__(
        self, base_url: str, app: str, user: str, password: str, handler: CallHandler,
        backoff_initial: float = 0.5, backoff_max: float = 5.0,
    ) -> None:
        self.app = app
        self.rest = AriRest(base_url, user, password)
        self.recent = RecentCalls()
        self.dispatcher = CallDispatcher(self.rest, handler, self.recent)
        # Run after every (re)connect, once calls are re-synced: Asterisk may have restarted.
        self.connect_hooks: list[Callable[[], Awaitable[None]]] = []
        # Run after every sweep: records whose call ended with no task left to close them.
        self.sweep_hooks: list[Callable[[], Awaitable[None]]] = []
        self._sweeper: asyncio.Task[None] | None = None
        self.events = AriEventStream(
            base_url, app, user, password,
            on_event=self.dispatcher.dispatch, on_connect=self._connected,
            backoff_initial=backoff_initial, backoff_max=backoff_max,
        )

    async def _connected(self) -> None:
        await self.dispatcher.resync()
        await self.dispatcher.reconcile(self.app)
        for hook in self.connect_hooks:
            await hook()

    @property
    def connected(self) -> bool:
        return self.events.connected.is_set()

    def start(self) -> None:
        self.events.start()
        self._sweeper = asyncio.create_task(self._sweep(), name="ari-sweep")

    async def _sweep(self) -> None:
        """Now and then, while connected: a channel or bridge of ours that no task owns (its
        call task died and its hang-up failed, say) is picked up like after a restart."""
        while True:
            await asyncio.sleep(SWEEP_EVERY)
            if not self.connected:
                continue
            try:
                await self.dispatcher.reconcile(self.app, min_age=SWEEP_MIN_AGE)
            except AriError as exc:
                log.warning("sweep of unowned channels failed: %s", exc)
            for hook in self.sweep_hooks:
                try:
                    await hook()
                except Exception:  # the sweep goes on: the next one retries
                    log.exception("sweep hook failed")

    async def drain(self, grace: float) -> int:
        """Take no new calls; give those in progress up to `grace` seconds to finish."""
        return await self.dispatcher.drain(grace)

    async def stop(self) -> None:
        """End every call cleanly (still hearing the PBX: each is told why before the hang-up),
        then stop receiving and close connections."""
        if self._sweeper is not None:
            self._sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sweeper
        await self.dispatcher.shutdown()
        await self.events.stop()
        await self.rest.aclose()
