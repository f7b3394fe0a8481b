"""Token owners remembered for a few seconds, so most requests skip the token query.

A revoked token or a deactivated user is refused again once its entry is older than the cache's
lifetime (at most 5 s, HOTLINE_TOKEN_CACHE_SECONDS), in every process; an expired token is
refused at once, because expiry is checked on every request. Unknown tokens are never
remembered, so a token issued a moment ago works immediately.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from app.core.clock import now
from app.db.session import Database
from app.services.auth import Principal, find_principal, hash_token

# The promise to operators: a revocation takes effect within this many seconds.
MAX_CACHE_SECONDS = 5.0


class TokenCache:
    def __init__(
        self,
        seconds: float = 2.0,
        max_entries: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not 0 <= seconds <= MAX_CACHE_SECONDS:
            raise ValueError(f"token cache lifetime must be 0..{MAX_CACHE_SECONDS} s")
        self.seconds = seconds
        self.max_entries = max_entries
        self.clock = clock
        self._entries: dict[str, tuple[float, Principal]] = {}
        self._pending: dict[str, asyncio.Future[Principal | None]] = {}
        self._forgotten: set[str] = set()  # forgotten while being looked up: not to remember

    async def principal(self, db: Database, token: str) -> Principal | None:
        """The token's owner, or None for an unknown, revoked or expired token."""
        key = hash_token(token)
        entry = self._entries.get(key)
        if entry is not None and self.clock() - entry[0] < self.seconds:
            found: Principal | None = entry[1]
        else:
            self._entries.pop(key, None)
            # Requests arriving while the token is being looked up wait for that query
            # instead of each sending their own (all of a busy client's do when its entry ages).
            pending = self._pending.get(key)
            if pending is None:
                pending = self._pending[key] = asyncio.ensure_future(self._load(db, key))
                pending.add_done_callback(lambda _: self._pending.pop(key, None))
            found = await asyncio.shield(pending)
        if found is None or found.expired(now()):
            return None
        return found

    async def _load(self, db: Database, key: str) -> Principal | None:
        async with db.session() as session:
            found = await find_principal(session, key)
        if key in self._forgotten:
            self._forgotten.discard(key)
        elif found is not None and self.seconds > 0:
            if len(self._entries) >= self.max_entries:
                # The oldest entry goes first (dicts keep insertion order).
                del self._entries[next(iter(self._entries))]
            self._entries[key] = (self.clock(), found)
        return found

    def forget(self, token: str) -> None:
        """A token just revoked here (a logout): refused at once, not after the cache time."""
        key = hash_token(token)
        self._entries.pop(key, None)
        if key in self._pending:  # its answer may predate the logout: not remembered
            self._forgotten.add(key)
