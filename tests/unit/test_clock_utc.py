"""Stored datetimes come back aware in UTC whatever the database did with their zone."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from app.core.clock import as_utc, utc_bound


def test_naive_is_utc_aware_is_kept_none_stays_none() -> None:
    naive = datetime(2026, 12, 1, 8, 30)
    assert as_utc(naive) == datetime(2026, 12, 1, 8, 30, tzinfo=UTC)
    beijing = datetime(2026, 12, 1, 16, 30, tzinfo=timezone(timedelta(hours=8)))
    assert as_utc(beijing) is beijing
    assert as_utc(None) is None


def test_a_query_bound_at_the_ends_of_the_calendar_stays_there() -> None:
    east, west = timezone(timedelta(hours=1)), timezone(timedelta(hours=-1))
    assert utc_bound(datetime(1, 1, 1, tzinfo=east)) == datetime.min.replace(tzinfo=UTC)
    assert utc_bound(datetime(9999, 12, 31, 23, 30, tzinfo=west)) == \
        datetime.max.replace(tzinfo=UTC)
    assert utc_bound(datetime(2026, 12, 1, 8, tzinfo=timezone(timedelta(hours=8)))) == \
        datetime(2026, 12, 1, tzinfo=UTC)
