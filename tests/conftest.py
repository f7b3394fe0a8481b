from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.instance import use_test_instance
from tests.postgres import create_database, postgres_server

# Real-browser fixtures (browser, page, web_app); the test order for parallel workers.
pytest_plugins = ["tests.browser", "tests.parallel"]

# Before anything reads the settings: tests never touch the instance `make run` uses.
use_test_instance()


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    with postgres_server() as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database of each engine."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'test.db'}"
    server: str = request.getfixturevalue("postgres_url")
    return create_database(server, "t_" + uuid.uuid4().hex[:12])
