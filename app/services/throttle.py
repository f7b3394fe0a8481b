"""Failed order verifications, throttled per order number, caller and API user.

The failures live in the database (table `lookup_failures`), so a lock holds across restarts
and across every app instance sharing the database. Only failures are written: a correct
look-up costs one indexed read. Attempts on one order number are taken one at a time (an
asyncio lock in this process; on PostgreSQL also a transaction-scoped advisory lock shared by
all instances), so parallel guesses cannot all pass the check before the first failure is
stored. Several processes on one SQLite file are not serialised against each other: each may
let one attempt through at the same moment.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from sqlalchemy import bindparam, delete, func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.models import LookupFailure


@dataclass(frozen=True)
class ThrottlePolicy:
    """How many failed verifications each key may have within the sliding window."""

    order_max_failures: int = 5
    # A caller may have several orders; an API user (an agent, a remote IVR) serves many callers.
    caller_max_failures: int = 10
    user_max_failures: int = 50
    window: float = 600.0


class OrderLocked(Exception):
    """Too many failed verifications: refuse the look-up, correct or not, for a while."""

    def __init__(self, retry_after: float, scope: str) -> None:
        self.retry_after = max(1, int(retry_after) + 1)  # whole seconds, never 0
        self.scope = scope  # "order", "caller" or "user"
        super().__init__(f"{scope} locked for {self.retry_after} s")


@dataclass(frozen=True)
class Attempt:
    """Who asks about which order: every key the attempt counts against."""

    order_no: str
    caller: str | None = None  # the calling number, when known
    user_id: int | None = None  # the API user, when the attempt came through the API

    def limits(self, policy: ThrottlePolicy) -> dict[str, tuple[str, int]]:
        """key -> (scope, max failures)"""
        keys = {f"order:{self.order_no}": ("order", policy.order_max_failures)}
        if self.caller and CALLER_NUMBER.fullmatch(self.caller):
            keys[caller_key(self.caller)] = ("caller", policy.caller_max_failures)
        if self.user_id is not None:
            keys[f"user:{self.user_id}"] = ("user", policy.user_max_failures)
        return keys


# Only a real number is a key: "anonymous" or an empty caller id is shared by many callers.
CALLER_NUMBER = re.compile(r"\+?[0-9]{3,20}")


def caller_key(number: str) -> str:
    # Hashed: the throttle table holds no phone numbers.
    return "caller:" + hashlib.sha256(number.encode()).hexdigest()[:40]


class _KeyedLocks:
    """One asyncio lock per key, dropped when nobody holds or waits for it."""

    def __init__(self) -> None:
        self._locks: dict[str, tuple[asyncio.Lock, int]] = {}

    @asynccontextmanager
    async def hold(self, key: str) -> AsyncIterator[None]:
        lock, users = self._locks.get(key, (asyncio.Lock(), 0))
        self._locks[key] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._locks[key]
            if users <= 1:
                del self._locks[key]
            else:
                self._locks[key] = (lock, users - 1)


_ORDERS = _KeyedLocks()


# Built once: this runs before every look-up.
FAILURES_QUERY = (
    select(LookupFailure.key, func.count(), func.min(LookupFailure.at))
    .where(LookupFailure.key.in_(bindparam("keys", expanding=True)),
           LookupFailure.at > bindparam("since"))
    .group_by(LookupFailure.key)
)


def now() -> float:
    return time.time()


class LookupThrottle:
    def __init__(self, policy: ThrottlePolicy | None = None) -> None:
        self.policy = policy or ThrottlePolicy()

    @asynccontextmanager
    async def attempt(self, session: AsyncSession, attempt: Attempt) -> AsyncIterator[None]:
        """Serialise attempts on this order, then raise OrderLocked if any key is locked."""
        async with _ORDERS.hold(attempt.order_no):
            if session.get_bind().dialect.name == "postgresql":
                await session.execute(
                    text("select pg_advisory_xact_lock(hashtext(:key))"),
                    {"key": f"order:{attempt.order_no}"},
                )
            await self.check(session, attempt)
            yield

    async def check(self, session: AsyncSession, attempt: Attempt) -> None:
        at = now()
        limits = attempt.limits(self.policy)
        rows = await session.execute(
            FAILURES_QUERY, {"keys": list(limits), "since": at - self.policy.window})
        worst: OrderLocked | None = None
        for key, count, oldest in rows:
            scope, most = limits[key]
            if count >= most:
                locked = OrderLocked(oldest + self.policy.window - at, scope)
                if worst is None or locked.retry_after > worst.retry_after:
                    worst = locked
        if worst is not None:
            raise worst

    async def failed(self, session: AsyncSession, attempt: Attempt) -> None:
        """Store one failure against every key of the attempt (and forget expired ones)."""
        at = now()
        await session.execute(delete(LookupFailure).where(
            LookupFailure.at <= at - self.policy.window))
        session.add_all(LookupFailure(key=key, at=at) for key in attempt.limits(self.policy))
        await session.commit()
