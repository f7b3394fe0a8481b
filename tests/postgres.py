"""A throwaway PostgreSQL server from Debian's packages for the test run (no Docker here)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

from app.db.pgserver import postgres_server as pg_server


@contextmanager
def postgres_server() -> Iterator[str]:
    """Yields a server URL; HOTLINE_TEST_POSTGRES_URL points the tests at an existing one."""
    given = os.environ.get("HOTLINE_TEST_POSTGRES_URL")
    if given:
        yield given
        return
    with pg_server() as url:
        yield url


def create_database(server_url: str, name: str) -> str:
    """A new empty database on the server; returns its URL."""
    import asyncio

    import asyncpg  # type: ignore[import-untyped]

    async def create() -> None:
        conn = await asyncpg.connect(server_url)
        try:
            await conn.execute(f'CREATE DATABASE "{name}"')
        finally:
            await conn.close()

    asyncio.run(create())
    return server_url.rsplit("/", 1)[0] + "/" + name
