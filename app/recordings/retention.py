"""How long recordings are kept: each queue's `retention_days` from the routing file, the
platform's default for queues without one and for calls that never reached a queue, or one
number of days for all (`hotline recordings purge --older-than`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, or_

from app.acd.routing import RoutingRules
from app.db.models import Recording


@dataclass(frozen=True)
class Retention:
    default_days: float
    by_queue: dict[str, float] = field(default_factory=dict)
    per_queue: bool = True  # False: one number for every recording (--older-than)

    @classmethod
    def uniform(cls, days: float) -> Retention:
        return cls(default_days=days, per_queue=False)

    @classmethod
    def from_routing(cls, rules: RoutingRules, default_days: float) -> Retention:
        return cls(default_days=default_days, by_queue={
            name: rule.retention_days for name, rule in rules.queues.items()
            if rule.retention_days is not None})

    def days_for(self, queue: str | None) -> float:
        return self.by_queue.get(queue or "", self.default_days)

    def reason(self, queue: str | None) -> str:
        """Why a recording is deleted, for its audit entry."""
        days = self.days_for(queue)
        if not self.per_queue:
            return f"older than {days:g} days"
        if queue in self.by_queue:
            return f"past queue {queue}'s retention of {days:g} days"
        return f"past the default retention of {days:g} days"

    def expired(self, moment: datetime) -> ColumnElement[bool]:
        """The recordings past their retention at `moment`."""
        def older(days: float) -> ColumnElement[bool]:
            return Recording.started_at < moment - timedelta(days=days)

        rest = or_(Recording.queue.is_(None), Recording.queue.not_in(list(self.by_queue)))
        return or_(and_(rest, older(self.default_days)),
                   *(and_(Recording.queue == name, older(days))
                     for name, days in self.by_queue.items()))

    def as_dict(self) -> dict[str, Any]:
        if not self.per_queue:
            return {"older_than_days": self.default_days}
        return {"default_days": self.default_days, "queues": dict(sorted(self.by_queue.items()))}
