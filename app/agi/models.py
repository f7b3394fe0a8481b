"""Tables the dialplan's AGI routes read; engineers edit them (API, `hotline agi`)."""

from __future__ import annotations

import enum
from datetime import date, datetime, time

from sqlalchemy import Date, DateTime, Integer, String, Time, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.db.models import Base, _enum


class BlockedNumber(Base):
    """A harassing number: its callers hear a short message and are hung up (counted in hits)."""

    __tablename__ = "blocked_numbers"
    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(40), unique=True)
    reason: Mapped[str] = mapped_column(String(200))
    # None: until it is removed.
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    hits: Mapped[int] = mapped_column(Integer, default=0)


class SpecialPassenger(Base):
    """A registered special passenger (重点旅客): their calls get HOTLINE_PRIORITY=1."""

    __tablename__ = "special_passengers"
    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(40), unique=True)
    note: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class WeeklyHours(Base):
    """Agents' opening hours on a weekday (0 Monday .. 6 Sunday); a day may have several."""

    __tablename__ = "weekly_hours"
    id: Mapped[int] = mapped_column(primary_key=True)
    weekday: Mapped[int] = mapped_column(Integer)
    opens: Mapped[time] = mapped_column(Time)
    closes: Mapped[time] = mapped_column(Time)  # 00:00 means midnight at the end of the day


class PeriodKind(enum.StrEnum):
    HOLIDAY = "holiday"  # closed, or the hours given
    PEAK = "peak"  # 春运 and other peaks: the hours given, else all day


class CalendarPeriod(Base):
    """Days that differ from the weekly hours: holidays and peak periods (春运)."""

    __tablename__ = "calendar_periods"
    __table_args__ = (UniqueConstraint("name"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(80))
    kind: Mapped[PeriodKind] = mapped_column(_enum(PeriodKind))
    first_day: Mapped[date] = mapped_column(Date)
    last_day: Mapped[date] = mapped_column(Date)
    opens: Mapped[time | None] = mapped_column(Time)
    closes: Mapped[time | None] = mapped_column(Time)


class CalledRoute(Base):
    """The menu variant (flow) for a called number; numbers without a row get the default."""

    __tablename__ = "called_routes"
    id: Mapped[int] = mapped_column(primary_key=True)
    called: Mapped[str] = mapped_column(String(40), unique=True)
    flow: Mapped[str] = mapped_column(String(60))
    note: Mapped[str] = mapped_column(String(200), default="")
