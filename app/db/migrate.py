"""Alembic from code: `hotline db upgrade` and the test fixtures use this."""

from __future__ import annotations

from alembic import command
from alembic.config import Config

from app.config import REPO_ROOT
from app.db.session import normalise_url


def alembic_config(url: str) -> Config:
    config = Config(str(REPO_ROOT / "alembic.ini"))
    config.attributes["url"] = normalise_url(url)
    config.attributes["configure_logging"] = False
    return config


def upgrade(url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(url), revision)


def downgrade(url: str, revision: str) -> None:
    command.downgrade(alembic_config(url), revision)


def current(url: str) -> str | None:
    from sqlalchemy import create_engine, text

    sync_url = normalise_url(url).replace("+aiosqlite", "").replace("+asyncpg", "+psycopg")
    if "+psycopg" in sync_url:
        return None  # no sync PostgreSQL driver needed just for this
    engine = create_engine(sync_url)
    try:
        with engine.connect() as conn:
            return conn.execute(text("select version_num from alembic_version")).scalar()
    except Exception:
        return None
    finally:
        engine.dispose()
