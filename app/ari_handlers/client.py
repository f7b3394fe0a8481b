"""The ARI client as a whole: REST, the app's event stream and the per-call dispatcher."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from app.ari_handlers.dispatch import CallDispatcher, CallHandler
from app.ari_handlers.events import AriEventStream
from app.ari_handlers.rest import AriRest
from app.core.calltrace import RecentCalls


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

    async def drain(self, grace: float) -> int:
        """Take no new calls; give those in progress up to `grace` seconds to finish."""
        return await self.dispatcher.drain(grace)

    async def stop(self) -> None:
        """End every call cleanly (still hearing the PBX: each is told why before the hang-up),
        then stop receiving and close connections."""
        await self.dispatcher.shutdown()
        await self.events.stop()
        await self.rest.aclose()
