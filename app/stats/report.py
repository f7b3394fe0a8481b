"""A statistics report: rows per key (queue, agent, center or IVR branch) and interval, and
the totals, in the shape `hotline stats --json` prints and `/api/v1/stats` returns."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.acd.routing import RoutingRules
from app.stats import facts
from app.stats.figures import FIGURES, Rules, tally
from app.stats.periods import Period

DIMENSIONS = ("queue", "agent", "center", "ivr")


def rules_from(routing: RoutingRules | None, short_abandon: float) -> Rules:
    """T per queue from the routing file (`service_level_seconds`, default 20 s)."""
    per_queue = {name: rule.service_level_seconds for name, rule in routing.queues.items()} \
        if routing is not None else {}
    return Rules(short_abandon=short_abandon, service_level_seconds=per_queue)


async def build(session: AsyncSession, period: Period, by: str, rules: Rules
                ) -> dict[str, Any]:
    if by not in DIMENSIONS:
        raise ValueError(f"by '{by}' is not one of {', '.join(DIMENSIONS)}")
    offers = await facts.offers(session, period)
    calls = await facts.calls(session, period)
    agents = await facts.agent_times(session, period)
    rows, total = tally(period.bucket, by, rules, offers, calls, agents)
    out_rows = [{"key": key, "start": start.isoformat(), **t.figures()}
                for (key, start), t in sorted(rows.items(), key=lambda kv: (kv[0][1], kv[0][0]))]
    return {
        "from": period.first.isoformat(), "to": period.last.isoformat(),
        "timezone": period.tz.key, "by": by, "interval": period.interval,
        "short_abandon_s": rules.short_abandon,
        "rows": out_rows, "totals": total.figures(),
    }


def as_csv(report: dict[str, Any]) -> str:
    """One line per row and a last line `TOTAL`; pauses per reason as JSON in one column."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["key", "start", *FIGURES])

    def cells(figures: dict[str, Any]) -> list[Any]:
        return ["" if figures[k] is None else
                json.dumps(figures[k], ensure_ascii=False) if isinstance(figures[k], dict)
                else figures[k] for k in FIGURES]

    for row in report["rows"]:
        writer.writerow([row["key"], row["start"], *cells(row)])
    writer.writerow(["TOTAL", report["from"], *cells(report["totals"])])
    return out.getvalue()


async def busiest_hour(session: AsyncSession, period: Period, rules: Rules
                       ) -> dict[str, Any] | None:
    """The hour of the period with the most offered calls, with its offered count and the
    period's measured AHT (None when nothing was offered)."""
    hourly = Period(period.first, period.last, period.tz, "hour")
    data = await build(session, hourly, "center", rules)
    per_hour: dict[str, int] = {}
    for row in data["rows"]:
        per_hour[row["start"]] = per_hour.get(row["start"], 0) + row["offered"]
    if not per_hour or max(per_hour.values()) == 0:
        return None
    start = max(sorted(per_hour), key=lambda s: per_hour[s])  # the earliest of equal hours
    return {"start": start, "offered": per_hour[start], "aht_s": data["totals"]["aht_s"]}
