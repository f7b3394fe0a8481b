"""Users with roles and their API tokens (only hashes are stored)."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import os
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.clock import now
from app.db.models import ApiToken, Role, User

TOKEN_PREFIX = "htl_"
# Tokens issued without an explicit lifetime expire after this many days.
DEFAULT_TOKEN_DAYS = 90.0


@dataclass(frozen=True)
class Principal:
    """Who a valid token belongs to: what routes need, detached from any database session."""

    user_id: int
    name: str
    role: Role
    expires_at: datetime | None  # the token's expiry (aware, UTC)

    def expired(self, at: datetime) -> bool:
        return self.expires_at is not None and at >= self.expires_at


class UserError(ValueError):
    pass


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


# scrypt parameters (RFC 7914 interactive-login strength); stored with each hash so they can grow.
_SCRYPT_N, _SCRYPT_R, _SCRYPT_P = 2**14, 8, 1


def hash_password(password: str) -> str:
    """A salted scrypt hash, `scrypt$N$r$p$salt$hash` (hex)."""
    salt = os.urandom(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=_SCRYPT_N, r=_SCRYPT_R, p=_SCRYPT_P)
    return f"scrypt${_SCRYPT_N}${_SCRYPT_R}${_SCRYPT_P}${salt.hex()}${digest.hex()}"


# Checked when a name is unknown, so a wrong name costs as long as a wrong password.
_DECOY = "scrypt$16384$8$1$" + "00" * 16 + "$" + "00" * 64


def verify_password(password: str, stored: str | None) -> bool:
    """Whether password matches a hash from hash_password; False for no or a malformed hash."""
    if not stored:
        return False
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        candidate = hashlib.scrypt(
            password.encode(), salt=bytes.fromhex(salt), n=int(n), r=int(r), p=int(p)
        )
    except ValueError:
        return False
    return hmac.compare_digest(candidate.hex(), digest)


async def create_user(session: AsyncSession, name: str, role: Role) -> User:
    if await session.scalar(select(User).where(User.name == name)) is not None:
        raise UserError(f"user {name!r} exists already")
    user = User(name=name, role=role, active=True, created_at=now())
    session.add(user)
    await session.flush()
    return user


async def issue_token(
    session: AsyncSession, name: str, days: float = DEFAULT_TOKEN_DAYS
) -> str:
    """A new token for the user, valid for `days`; shown once, stored as a hash."""
    if not days > 0:
        raise UserError(f"a token's lifetime must be more than 0 days, not {days}")
    user = await session.scalar(select(User).where(User.name == name))
    if user is None:
        raise UserError(
            f"no user {name!r}: create it with `hotline users create {name} --role ...`"
        )
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    session.add(
        ApiToken(
            user_id=user.id,
            token_hash=hash_token(token),
            prefix=token[:12],
            created_at=(issued := now()),
            expires_at=issued + timedelta(days=days),
            revoked=False,
        )
    )
    await session.flush()
    return token


def _aware(value: datetime | None) -> datetime | None:
    # SQLite hands back the stored UTC time without its zone.
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)


async def find_principal(session: AsyncSession, token_hash: str) -> Principal | None:
    """The owner of an unrevoked token of an active user, expired or not."""
    row = (
        await session.execute(
            select(User.id, User.name, User.role, ApiToken.expires_at)
            .join(ApiToken, ApiToken.user_id == User.id)
            .where(
                ApiToken.token_hash == token_hash,
                ApiToken.revoked.is_(False),
                User.active.is_(True),
            )
        )
    ).first()
    if row is None:
        return None
    return Principal(row[0], row[1], row[2], _aware(row[3]))


async def authenticate(session: AsyncSession, token: str) -> Principal | None:
    """The token's owner, or None for an unknown, revoked or expired token."""
    principal = await find_principal(session, hash_token(token))
    if principal is None or principal.expired(now()):
        return None
    return principal


async def revoke_tokens(session: AsyncSession, name: str, prefix: str | None = None) -> int:
    """Revoke the user's tokens (only the one starting with prefix, if given); how many."""
    user = await session.scalar(select(User).where(User.name == name))
    if user is None:
        raise UserError(f"no user {name!r}: `hotline users list` shows who exists")
    query = update(ApiToken).where(ApiToken.user_id == user.id, ApiToken.revoked.is_(False))
    if prefix is not None:
        if len(prefix) < 8:
            raise UserError("give at least the first 8 characters of the token (htl_ and 4 more)")
        query = query.where(ApiToken.prefix.startswith(prefix[:12], autoescape=True))
    result = await session.execute(query.values(revoked=True))
    count = int(getattr(result, "rowcount", 0) or 0)
    if prefix is not None and count == 0:
        raise UserError(f"user {name!r} has no unrevoked token starting with {prefix[:12]!r}")
    return count


async def revoke_session(session: AsyncSession, token_hash: str) -> None:
    """Revoke one token by its hash (a web page's logout)."""
    await session.execute(update(ApiToken).where(ApiToken.token_hash == token_hash)
                          .values(revoked=True))


async def list_tokens(session: AsyncSession, name: str) -> list[ApiToken]:
    user = await session.scalar(select(User).where(User.name == name))
    if user is None:
        raise UserError(f"no user {name!r}: `hotline users list` shows who exists")
    return list(
        await session.scalars(
            select(ApiToken).where(ApiToken.user_id == user.id).order_by(ApiToken.id)
        )
    )


MIN_PASSWORD = 8


async def set_password(session: AsyncSession, name: str, password: str | None) -> str | None:
    """Give the user a login password (web pages); returns it when generated (shown once)."""
    user = await session.scalar(select(User).where(User.name == name))
    if user is None:
        raise UserError(f"no user {name!r}: `hotline users list` shows who exists")
    if password is not None and len(password) < MIN_PASSWORD:
        raise UserError(f"the password is too short: use at least {MIN_PASSWORD} characters")
    generated = None if password else secrets.token_urlsafe(12)
    user.password_hash = hash_password(password or generated or "")
    await session.flush()
    return generated


async def check_login(session: AsyncSession, name: str, password: str) -> User | None:
    """The active user with this name and password, else None (whichever part was wrong)."""
    user = await session.scalar(select(User).where(User.name == name, User.active.is_(True)))
    stored = user.password_hash if user is not None else None
    # scrypt is slow on purpose: off the event loop, and run for unknown names too.
    ok = await asyncio.to_thread(verify_password, password, stored or _DECOY)
    return user if ok and stored else None


async def list_users(session: AsyncSession) -> list[User]:
    return list(await session.scalars(select(User).order_by(User.name)))


def _read_token(path: Path) -> str | None:
    try:
        return path.read_text().strip() or None
    except OSError:
        return None


def _write_token(path: Path, token: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(token + "\n")


async def ensure_local_token(
    session: AsyncSession, path: Path, name: str = "local-engineer"
) -> str:
    """The token of this machine's engineer user, kept in a root-only file (created once)."""
    token = _read_token(path)
    if token and await authenticate(session, token) is not None:
        return token
    if await session.scalar(select(User).where(User.name == name)) is None:
        await create_user(session, name, Role.ENGINEER)
    token = await issue_token(session, name)
    _write_token(path, token)
    return token
