"""Failed order verifications, throttled per order number, caller and API user.

The failures live in the database (table `lookup_failures`), so a lock holds across restarts
and across every app instance sharing the database. Only failures are written: a correct
look-up costs one indexed read beside the order's. Attempts on one order number are taken one
at a time (an asyncio lock in this process; on PostgreSQL also an advisory lock shared by all
instances, held until the attempt's failure is stored), so parallel guesses cannot all pass the
check before the first failure is stored. Several processes on one SQLite file are not
serialised against each other: each may let one attempt through at the same moment.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import time
from dataclasses import dataclass

from sqlalchemy import bindparam, delete, func, insert, select

from app.db.models import LookupFailure
from app.db.raw import RawConnection, RawPool, Row
from app.db.session import Database


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
    """One asyncio lock per key, dropped when nobody holds or waits for it. (Plain methods and
    classes, no @asynccontextmanager: an async generator per use costs on the busiest path.)"""

    def __init__(self) -> None:
        self._locks: dict[str, tuple[asyncio.Lock, int]] = {}

    async def acquire(self, key: str) -> None:
        lock, users = self._locks.get(key) or (asyncio.Lock(), 0)
        self._locks[key] = (lock, users + 1)
        try:
            await lock.acquire()
        except BaseException:
            self._leave(key)
            raise

    def release(self, key: str) -> None:
        self._locks[key][0].release()
        self._leave(key)

    def _leave(self, key: str) -> None:
        lock, users = self._locks[key]
        if users <= 1:
            del self._locks[key]
        else:
            self._locks[key] = (lock, users - 1)

    def hold(self, key: str) -> _Held:
        return _Held(self, key)


class _Held:
    def __init__(self, locks: _KeyedLocks, key: str) -> None:
        self.locks, self.key = locks, key

    async def __aenter__(self) -> None:
        await self.locks.acquire(self.key)

    async def __aexit__(self, *exc: object) -> None:
        self.locks.release(self.key)


_ORDERS = _KeyedLocks()


# Every key of an attempt in one fixed-size IN list (padded with the order's key): one
# statement compiled once, whatever the attempt's keys.
MAX_KEYS = 3
FAILURES_QUERY = (
    select(LookupFailure.key, func.count(), func.min(LookupFailure.at))
    .where(LookupFailure.key.in_([bindparam(f"key{i}") for i in range(MAX_KEYS)]),
           LookupFailure.at > bindparam("since"))
    .group_by(LookupFailure.key)
)
FORGET_EXPIRED = delete(LookupFailure).where(LookupFailure.at <= bindparam("before"))
STORE_FAILURE = insert(LookupFailure).values(key=bindparam("key"), at=bindparam("at"))
# Session-level, so no transaction is needed around the reads; released by the attempt, or by
# the server when the raw pool closes a connection whose borrower failed half-way.
ORDER_LOCK = select(func.pg_advisory_lock(func.hashtext(bindparam("key"))))
ORDER_UNLOCK = select(func.pg_advisory_unlock(func.hashtext(bindparam("key"))))


def now() -> float:
    return time.time()


def order_lock_key(attempt: Attempt) -> dict[str, str]:
    return {"key": f"order:{attempt.order_no}"}


@dataclass
class Turn:
    """An attempt's exclusive turn on its order number: the connection to judge it on."""

    conn: RawConnection
    attempt: Attempt
    throttle: LookupThrottle
    pool: RawPool
    # PostgreSQL: the judging statement released the order's lock (a success, seen in its own
    # snapshot); nothing is left to release.
    released: bool = False

    def check_values(self) -> dict[str, object]:
        """FAILURES_QUERY's parameters: the attempt's keys, the start of the window."""
        keys = list(self.attempt.limits(self.throttle.policy))
        keys += keys[:1] * (MAX_KEYS - len(keys))
        values: dict[str, object] = {f"key{i}": key for i, key in enumerate(keys)}
        values["since"] = now() - self.throttle.policy.window
        return values

    def locked(self, failures: list[Row]) -> OrderLocked | None:
        """The lock to answer with if any key has its most failures within the window."""
        at = now()
        limits = self.attempt.limits(self.throttle.policy)
        worst: OrderLocked | None = None
        for key, count, oldest in failures:
            scope, most = limits[key]
            if count >= most:
                locked = OrderLocked(oldest + self.throttle.policy.window - at, scope)
                if worst is None or locked.retry_after > worst.retry_after:
                    worst = locked
        return worst

    async def failed(self) -> None:
        """Store one failure against every key of the attempt (and forget expired ones)."""
        if self.released:  # never expected (released only on a success): take it again
            await self.conn.fetch((self.pool.compile(ORDER_LOCK), order_lock_key(self.attempt)))
            self.released = False
        at = now()
        await self.conn.write(
            (self.pool.compile(FORGET_EXPIRED), [{"before": at - self.throttle.policy.window}]),
            (self.pool.compile(STORE_FAILURE),
             [{"key": key, "at": at} for key in self.attempt.limits(self.throttle.policy)]),
        )


class LookupThrottle:
    def __init__(self, policy: ThrottlePolicy | None = None) -> None:
        self.policy = policy or ThrottlePolicy()

    def attempt(self, db: Database, attempt: Attempt) -> Attempting:
        """Attempts on one order number one at a time: this process's, and on PostgreSQL every
        instance's. The caller reads FAILURES_QUERY first and hands its rows to locked(); nothing
        may be raised inside the turn but real failures (so the connection is kept)."""
        return Attempting(self, db, attempt)


class Attempting:
    """`async with throttle.attempt(db, attempt) as turn`: the order's turn, held."""

    def __init__(self, throttle: LookupThrottle, db: Database, attempt: Attempt) -> None:
        self.throttle, self.pool, self.attempt = throttle, db.raw, attempt
        self.pg = db.raw.name == "postgresql"
        self.key = order_lock_key(attempt)
        self.conn: RawConnection | None = None
        self.turn: Turn | None = None

    async def __aenter__(self) -> Turn:
        await _ORDERS.acquire(self.attempt.order_no)
        try:
            self.conn = await self.pool.acquire()
            if self.pg:
                try:
                    await self.conn.fetch((self.pool.compile(ORDER_LOCK), self.key))
                except BaseException:
                    self.pool.release(self.conn, failed=True)
                    raise
        except BaseException:
            _ORDERS.release(self.attempt.order_no)
            raise
        self.turn = Turn(self.conn, self.attempt, self.throttle, self.pool)
        return self.turn

    async def __aexit__(self, exc_type: type[BaseException] | None, *_: object) -> None:
        assert self.conn is not None
        failed = exc_type is not None
        try:
            if self.pg and not failed and not (self.turn and self.turn.released):
                # After a clean turn only: otherwise the pool closes the connection, and the
                # server releases the lock with it.
                try:
                    await self.conn.fetch((self.pool.compile(ORDER_UNLOCK), self.key))
                except BaseException:
                    failed = True
                    raise
        finally:
            self.pool.release(self.conn, failed=failed)
            _ORDERS.release(self.attempt.order_no)
