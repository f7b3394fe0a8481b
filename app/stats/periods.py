"""Report periods: whole days in the center's time zone, and the intervals rows are cut into."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

MAX_DAYS = 366  # a report covers at most a year
EARLIEST, LATEST = date(2000, 1, 1), date(2999, 12, 31)
INTERVALS = {"15m": timedelta(minutes=15), "hour": timedelta(hours=1), "day": timedelta(days=1)}


class PeriodError(ValueError):
    """A date range or interval a report cannot use; the message says what to send."""


def parse_day(text: str, name: str) -> date:
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise PeriodError(f"{name} '{text}' is not a date: use YYYY-MM-DD, e.g. 2026-12-01") \
            from None


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise PeriodError(f"unknown time zone '{name}' (e.g. Asia/Shanghai)") from None


@dataclass(frozen=True)
class Period:
    """From the first day's midnight to the end of the last day (inclusive), local time."""

    first: date
    last: date
    tz: ZoneInfo
    interval: str | None = None

    @classmethod
    def of(cls, first: str | date, last: str | date, tz: str, interval: str | None = None
           ) -> Period:
        start = first if isinstance(first, date) else parse_day(first, "from")
        end = last if isinstance(last, date) else parse_day(last, "to")
        for day in (start, end):
            if not EARLIEST <= day <= LATEST:
                raise PeriodError(f"{day} is out of range ({EARLIEST} to {LATEST})")
        if end < start:
            raise PeriodError(f"to ({end}) is before from ({start})")
        if (end - start).days >= MAX_DAYS:
            raise PeriodError(f"from {start} to {end} is more than {MAX_DAYS} days: "
                              "ask for a year at most")
        if interval is not None and interval not in INTERVALS:
            raise PeriodError(f"interval '{interval}' is not one of {', '.join(INTERVALS)}")
        return cls(start, end, zone(tz), interval)

    @property
    def start(self) -> datetime:
        return datetime(self.first.year, self.first.month, self.first.day, tzinfo=self.tz)

    @property
    def end(self) -> datetime:
        last = self.last + timedelta(days=1)
        return datetime(last.year, last.month, last.day, tzinfo=self.tz)

    @property
    def start_utc(self) -> datetime:
        return self.start.astimezone(UTC)

    @property
    def end_utc(self) -> datetime:
        return self.end.astimezone(UTC)

    def bucket(self, moment: datetime) -> datetime:
        """The start (local time) of the interval holding `moment`; the period's start when
        the report has no interval."""
        if self.interval is None:
            return self.start
        local = moment.astimezone(self.tz)
        if self.interval == "day":
            return local.replace(hour=0, minute=0, second=0, microsecond=0)
        if self.interval == "hour":
            return local.replace(minute=0, second=0, microsecond=0)
        return local.replace(minute=local.minute - local.minute % 15, second=0, microsecond=0)

    def next_bucket(self, start: datetime) -> datetime:
        if self.interval is None:
            return self.end
        # Wall-clock arithmetic: a day is a calendar day even across a DST change.
        step = INTERVALS[self.interval]
        naive = start.replace(tzinfo=None) + step
        return naive.replace(tzinfo=self.tz)

    def split(self, begin: datetime, finish: datetime) -> list[tuple[datetime, float]]:
        """The seconds of [begin, finish) inside the period, per interval start."""
        begin, finish = max(begin, self.start), min(finish, self.end)
        out: list[tuple[datetime, float]] = []
        while begin < finish:
            bucket = self.bucket(begin)
            edge = min(self.next_bucket(bucket), finish)
            out.append((bucket, (edge - begin).total_seconds()))
            begin = edge
        return out
