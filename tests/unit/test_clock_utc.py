"""Stored datetimes come back aware in UTC whatever the database did with their zone."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from app.core.clock import as_utc


def test_naive_is_utc_aware_is_kept_none_stays_none() -> None:
    naive = datetime(2026, 12, 1, 8, 30)
    assert as_utc(naive) == datetime(2026, 12, 1, 8, 30, tzinfo=UTC)
    beijing = datetime(2026, 12, 1, 16, 30, tzinfo=timezone(timedelta(hours=8)))
    assert as_utc(beijing) is beijing
    assert as_utc(None) is None
