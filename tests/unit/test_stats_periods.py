"""Report periods: local whole days, intervals, and the refusals of bad ranges."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from app.stats.periods import Period, PeriodError


def test_days_are_local_and_inclusive() -> None:
    p = Period.of("2026-12-01", "2026-12-02", "Asia/Shanghai")
    assert p.start_utc == datetime(2026, 11, 30, 16, 0, tzinfo=UTC)
    assert p.end_utc == datetime(2026, 12, 2, 16, 0, tzinfo=UTC)


def test_buckets_and_split() -> None:
    p = Period.of("2026-12-01", "2026-12-01", "Asia/Shanghai", "15m")
    moment = datetime(2026, 12, 1, 1, 29, 59, tzinfo=UTC)  # 09:29:59 local
    assert p.bucket(moment).isoformat() == "2026-12-01T09:15:00+08:00"
    begin = datetime(2026, 12, 1, 1, 10, tzinfo=UTC)
    parts = p.split(begin, datetime(2026, 12, 1, 1, 40, tzinfo=UTC))
    assert [(b.strftime("%H:%M"), s) for b, s in parts] == \
        [("09:00", 300.0), ("09:15", 900.0), ("09:30", 600.0)]
    whole = Period.of("2026-12-01", "2026-12-01", "Asia/Shanghai")
    assert whole.bucket(moment) == whole.start
    # Time before the period does not count.
    assert whole.split(datetime(2026, 11, 30, 15, 0, tzinfo=UTC), whole.start_utc) == []


@pytest.mark.parametrize("first, last, tz, interval, message", [
    ("2026-12-1x", "2026-12-01", "Asia/Shanghai", None, "is not a date"),
    ("2026-12-02", "2026-12-01", "Asia/Shanghai", None, "is before from"),
    ("2024-12-31", "2026-01-01", "Asia/Shanghai", None, "more than 366 days"),
    ("0001-01-01", "0001-01-01", "Asia/Shanghai", None, "out of range"),
    ("2026-12-01", "2026-12-01", "Nowhere/Land", None, "unknown time zone"),
    ("2026-12-01", "2026-12-01", "Asia/Shanghai", "week", "not one of 15m, hour, day"),
])
def test_refusals(first: str, last: str, tz: str, interval: str | None, message: str) -> None:
    with pytest.raises(PeriodError, match=message):
        Period.of(first, last, tz, interval)


def test_service_level_t_per_queue_from_the_routing_file() -> None:
    from app.acd.routing import parse_routing
    from app.stats.report import rules_from

    text = """\
queues:
  general: {skill: ticket}
  assistance: {skill: assistance, service_level_seconds: 10}
centers: {names: [北京], default: 北京}
"""
    rules = rules_from(parse_routing(text), short_abandon=4)
    assert (rules.t("general"), rules.t("assistance"), rules.t("gone")) == (20, 10, 20)
    assert rules.short_abandon == 4
    with pytest.raises(Exception, match="service_level_seconds"):
        parse_routing(text.replace("10}", "0}"))
