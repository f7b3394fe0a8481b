"""Request dependencies: a database session per request, and role-checked authentication."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from app.api.errors import ApiError
from app.db.models import Role
from app.db.session import Database
from app.services.auth import Principal
from app.services.token_cache import TokenCache


def get_database(request: Request) -> Database:
    db: Database = request.app.state.db
    return db


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    async with get_database(request).session() as session:
        yield session


Session = Annotated[AsyncSession, Depends(get_session)]


SESSION_COOKIE = "hotline_session"  # the web pages' login (POST /api/v1/session)


def request_token(request: Request) -> str:
    """The API token of the request: the Authorization header, else the pages' login cookie."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    return request.cookies.get(SESSION_COOKIE, "")


def require(*roles: Role) -> Callable[..., Awaitable[Principal]]:
    """A dependency admitting these roles (and admin); the route's docs list them."""
    admitted = {*roles, Role.ADMIN}

    async def check(request: Request) -> Principal:
        token = request_token(request)
        if not token:
            raise ApiError(
                401,
                "unauthenticated",
                "send an API token: Authorization: Bearer TOKEN (or log in: POST /api/v1/session)",
                headers={"WWW-Authenticate": "Bearer"},
            )
        tokens: TokenCache = request.app.state.token_cache
        user = await tokens.principal(get_database(request), token)
        if user is None:
            raise ApiError(
                401,
                "unauthenticated",
                "unknown, revoked or expired API token",
                headers={"WWW-Authenticate": "Bearer"},
            )
        if user.role not in admitted:
            raise ApiError(
                403,
                "forbidden",
                f"role {user.role.value} may not do this",
                {"admitted_roles": sorted(r.value for r in admitted)},
            )
        return user

    return check


def roles_doc(*roles: Role) -> str:
    return "Admitted roles: " + ", ".join(sorted({r.value for r in (*roles, Role.ADMIN)})) + "."
