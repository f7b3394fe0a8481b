"""Token owners remembered for a few seconds, so most requests skip the token query.

A revoked token or a deactivated user is refused again once its entry is older than the cache's
lifetime (at most 5 s, HOTLINE_TOKEN_CACHE_SECONDS), in every process; an expired token is
refused at once, because expiry is checked on every request. Unknown tokens are never
remembered, so a token issued a moment ago works immediately. A token still in use halfway
through its entry's lifetime is looked up again in the background (its requests keep being
answered from the entry meanwhile, never past the lifetime), so they never all stop and wait.
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
# Share of the lifetime after which a token in use is looked up again in the background.
REFRESH_AT = 0.5


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
        age = self.clock() - entry[0] if entry is not None else self.seconds
        if entry is not None and age < self.seconds:
            found: Principal | None = entry[1]
            if age >= self.seconds * REFRESH_AT and key not in self._pending:
                # Asked again before it ages out, in the background: a busy client's requests
                # never all wait for the query at once (they would every few seconds).
                self._load_once(db, key)
        else:
            self._entries.pop(key, None)
            # Requests arriving while the token is being looked up wait for that query
            # instead of each sending their own.
            found = await asyncio.shield(self._pending.get(key) or self._load_once(db, key))
        if found is None or found.expired(now()):
            return None
        return found

    def _load_once(self, db: Database, key: str) -> asyncio.Future[Principal | None]:
        pending = self._pending[key] = asyncio.ensure_future(self._load(db, key))
        pending.add_done_callback(lambda _: self._pending.pop(key, None))
        return pending

    async def _load(self, db: Database, key: str) -> Principal | None:
        asked = self.clock()  # the answer is as old as the question
        async with db.session() as session:
            found = await find_principal(session, key)
        if key in self._forgotten:
            self._forgotten.discard(key)
        elif found is None:
            self._entries.pop(key, None)  # revoked meanwhile: refused from now on
        elif self.seconds > 0:
            if len(self._entries) >= self.max_entries and key not in self._entries:
                # The oldest entry goes first (dicts keep insertion order).
                del self._entries[next(iter(self._entries))]
            self._entries[key] = (asked, found)
        return found

    def forget(self, token: str) -> None:
        """A token just revoked here (a logout): refused at once, not after the cache time."""
        key = hash_token(token)
        self._entries.pop(key, None)
        if key in self._pending:  # its answer may predate the logout: not remembered
            self._forgotten.add(key)
