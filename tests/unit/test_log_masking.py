"""The serve log: callers masked and followed by their call id; no phone or ID number in clear."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.ari_handlers.client import AriClient
from app.db import migrate
from app.db.session import Database
from app.ivr.app import ivr_handler
from app.ivr.loader import parse_flow
from app.logs import setup_logging
from tests.fake_ari import FakeAri
from tests.unit.test_ivr_runner import FLOW, StubVoice, eventually, kinds, wait_record


@pytest.fixture
def serve_log(capsys: pytest.CaptureFixture[str]) -> Iterator[pytest.CaptureFixture[str]]:
    """The serve log (a handler on stderr), set up by each test on its own stderr."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield capsys
    root.handlers[:] = handlers
    root.setLevel(level)


async def test_a_call_is_logged_with_its_id_and_a_masked_number(
        serve_log: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    setup_logging()
    url = f"sqlite:///{tmp_path / 'log.db'}"
    await asyncio.to_thread(migrate.upgrade, url)
    db = Database(url)
    fake = FakeAri()
    await fake.start()
    client = AriClient(fake.base_url, "hotline", "u", "p",
                       ivr_handler(parse_flow(FLOW), db, StubVoice()))
    client.start()
    try:
        await asyncio.wait_for(fake.connected.wait(), 5)
        await fake.start_call("call-77")  # from 13800138000
        await eventually(lambda: "prompt" in kinds(client, "call-77"))
        await fake.hangup("call-77")
        await wait_record(db, "call-77")
    finally:
        await client.stop()
        await fake.stop()
        await db.dispose()
    err = serve_log.readouterr().err
    lines = [ln for ln in err.splitlines() if "call from" in ln]
    assert lines and "[call call-77]" in lines[0] and "call from 138****8000 started" in lines[0]
    assert "13800138000" not in err


def test_numbers_in_any_log_line_or_traceback_are_masked(
        serve_log: pytest.CaptureFixture[str]) -> None:
    setup_logging()
    log = logging.getLogger("app.test")
    log.warning("callback 3: cannot dial the passenger: Local/%s@callback-out", "13912345678")
    try:
        raise ValueError("no order for 110101199003071234")
    except ValueError:
        log.exception("lookup failed")
    err = serve_log.readouterr().err
    assert "Local/139********@callback-out" in err
    assert "ValueError: no order for 1101**************" in err
    assert "13912345678" not in err and "110101199003071234" not in err


def test_a_websocket_token_in_the_url_is_not_logged(
        serve_log: pytest.CaptureFixture[str]) -> None:
    setup_logging()
    logging.getLogger("uvicorn.error").info(
        '%s - "WebSocket %s" [accepted]', "127.0.0.1:60212",
        "/api/v1/pbx/events?types=Hangup&token=htl_9cA3w9WKPi7fF2McsPvI6RBT-gl_x")
    logging.getLogger("uvicorn.error").info("GET /api/v1/wall/ws?token=htl_abc HTTP/1.1")
    err = serve_log.readouterr().err
    assert "htl_" not in err
    assert "/api/v1/pbx/events?types=Hangup&token=***\" [accepted]" in err
    assert "/api/v1/wall/ws?token=*** HTTP/1.1" in err
