"""Unit tests' shared fixtures."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.fake_ari import FakeAri


@pytest.fixture
async def fake() -> AsyncIterator[FakeAri]:
    """A fake ARI server (REST and event WebSocket) on a free port."""
    server = FakeAri()
    await server.start()
    yield server
    await server.stop()
