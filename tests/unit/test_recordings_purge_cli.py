"""`hotline recordings purge`: each queue's retention by default, --older-than for all, and a
routing file with a bad retention refused before anything is deleted."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.cli import main
from app.config import get_settings
from app.db import migrate
from app.db.session import Database
from tests.unit.test_recordings import RETENTION_ROUTING, recorded


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A database with three recordings (ticket 15 days old, complaint 45, no queue 35) and
    the routing file of RETENTION_ROUTING (ticket 10 days, complaint 60); default 30."""
    url = f"sqlite:///{tmp_path / 'hotline.db'}"
    routing = tmp_path / "routing.yaml"
    routing.write_text(RETENTION_ROUTING, encoding="utf-8")
    for key, value in {"DATABASE_URL": url, "STATE_DIR": str(tmp_path / "state"),
                       "PBX_ROOT": str(tmp_path / "root"), "ROUTING_FILE": str(routing),
                       "RECORDING_RETENTION_DAYS": "30"}.items():
        monkeypatch.setenv(f"HOTLINE_{key}", value)
    get_settings.cache_clear()
    migrate.upgrade(url)

    async def seed() -> None:
        db = Database(url)
        try:
            for call_id, queue, age in (("t", "ticket", 15), ("c", "complaint", 45),
                                        ("n", None, 35)):
                await recorded(db, get_settings(), call_id, 0.5, age_days=age, queue=queue)
        finally:
            await db.dispose()

    asyncio.run(seed())
    yield routing
    get_settings.cache_clear()


def purge(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["recordings", "purge", *args])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_purge_applies_each_queues_retention_unless_older_than_is_given(
        env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = purge(capsys, "--dry-run", "--json")
    listed = json.loads(out)
    assert code == 0 and listed["dry_run"] is True
    assert listed["retention"] == {"default_days": 30, "queues": {"complaint": 60, "ticket": 10}}
    assert sorted((r["call_id"], r["retention_days"]) for r in listed["recordings"]) == [
        ("n", 30), ("t", 10)]
    code, out, _ = purge(capsys, "--older-than", "40", "--dry-run", "--json")
    assert code == 0 and json.loads(out)["retention"] == {"older_than_days": 40}
    assert [r["call_id"] for r in json.loads(out)["recordings"]] == ["c"]

    code, out, _ = purge(capsys)
    assert code == 0
    assert out.startswith("deleted 2 recordings past their retention (default 30 days; "
                          "complaint 60, ticket 10)")
    code, out, _ = purge(capsys, "--dry-run", "--json")  # nothing left past its retention
    assert json.loads(out)["recordings"] == []


def test_a_bad_retention_in_the_routing_file_purges_nothing(
        env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    env.write_text(RETENTION_ROUTING.replace("retention_days: 60", "retention_days: 0"),
                   encoding="utf-8")
    code, out, err = purge(capsys)
    assert code == 2 and out == ""
    assert f"{env}:9: queue complaint: retention_days must be a number of days above 0 " \
           "(got 0)" in err
    code, out, err = purge(capsys, "--older-than", "-1")
    assert code == 2 and "--older-than must be 0 or more days" in err
    code, out, _ = purge(capsys, "--older-than", "1", "--dry-run", "--json")  # all still there
    assert len(json.loads(out)["recordings"]) == 3
