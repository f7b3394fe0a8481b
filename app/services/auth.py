"""Users with roles and their API tokens (only hashes are stored)."""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.clock import now
from app.db.models import ApiToken, Role, User

TOKEN_PREFIX = "htl_"


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


async def issue_token(session: AsyncSession, name: str) -> str:
    """A new token for the user; shown once, stored as a hash."""
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
            created_at=now(),
            revoked=False,
        )
    )
    await session.flush()
    return token


async def authenticate(session: AsyncSession, token: str) -> User | None:
    return await session.scalar(
        select(User)
        .join(ApiToken, ApiToken.user_id == User.id)
        .where(
            ApiToken.token_hash == hash_token(token),
            ApiToken.revoked.is_(False),
            User.active.is_(True),
        )
    )


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
