"""`hotline stats` (figures from the call records) and `hotline staffing` (Erlang C)."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from typing import Any

from app.acd.routing import RoutingError, load_routing
from app.config import get_settings
from app.db.session import Database
from app.stats import report
from app.stats.periods import INTERVALS, Period, PeriodError
from app.stats.staffing import StaffingError, parse_target, staffing

# Columns of the readable table: (heading, key, format).
TABLE = (
    ("offered", "offered", "d"), ("answered", "answered", "d"), ("aband.", "abandoned", "d"),
    ("short", "short_abandoned", "d"), ("接通率", "answer_rate", "%"),
    ("SL", "service_level", "%"), ("ASA s", "asa_s", "f"), ("AHT s", "aht_s", "f"),
    ("cb", "callback_offers", "d"), ("ovf in", "overflow_in", "d"),
    ("ovf out", "overflow_out", "d"), ("platf.", "platform_ended", "d"),
    ("occup.", "occupancy", "%"), ("calls", "calls", "d"), ("self-svc", "ivr_completion_rate", "%"),
)


def _cell(value: Any, fmt: str) -> str:
    if value is None:
        return "-"
    if fmt == "%":
        return f"{value * 100:.1f}%"
    if fmt == "f":
        return f"{value:.1f}"
    return str(value)


def table(data: dict[str, Any]) -> str:
    head = ["key", "start", *(h for h, _, _ in TABLE)]
    lines = [[str(r["key"]), r["start"][:16].replace("T", " "),
              *(_cell(r[k], f) for _, k, f in TABLE)] for r in data["rows"]]
    lines.append(["TOTAL", "", *(_cell(data["totals"][k], f) for _, k, f in TABLE)])
    widths = [max(len(x) for x in col) for col in zip(head, *lines, strict=True)]
    out = [f"{data['from']} .. {data['to']} ({data['timezone']}), by {data['by']}"
           + (f", every {data['interval']}" if data["interval"] else "")]
    for line in [head, *lines]:
        out.append("  ".join(c.rjust(w) if i > 1 else c.ljust(w)
                             for i, (c, w) in enumerate(zip(line, widths, strict=True))))
    pauses = data["totals"].get("pause_by_reason") or {}
    if pauses:
        out.append("paused by reason: " + ", ".join(f"{k} {v:.0f} s" for k, v in pauses.items()))
    out.append("definitions: docs/statistics.md")
    return "\n".join(out)


async def _report(args: argparse.Namespace) -> dict[str, Any]:
    settings = get_settings()
    period = Period.of(args.date_from, args.date_to, args.timezone or settings.timezone,
                       args.interval)
    routing = load_routing(settings.routing_file)
    short = args.short_abandon if args.short_abandon is not None \
        else settings.short_abandon_seconds
    db = Database(settings.db_url)
    try:
        async with db.session() as session:
            return await report.build(session, period, args.by,
                                      report.rules_from(routing, short))
    finally:
        await db.dispose()


def _stats(args: argparse.Namespace) -> int:
    if args.short_abandon is not None and args.short_abandon < 0:
        print("hotline: error: --short-abandon must be 0 or more seconds", file=sys.stderr)
        return 2
    try:
        data = asyncio.run(_report(args))
    except PeriodError as exc:
        print(f"hotline: error: {exc}", file=sys.stderr)
        return 2
    except RoutingError as exc:
        print(f"hotline: error: the routing file has problems:\n{exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(data, ensure_ascii=False))
    elif args.csv:
        sys.stdout.write(report.as_csv(data))
    else:
        print(table(data))
    return 0


def _staffing(args: argparse.Namespace) -> int:
    try:
        result = staffing(args.calls_per_hour, args.aht, parse_target(args.target),
                          args.max_occupancy)
    except StaffingError as exc:
        print(f"hotline: error: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(result.as_dict()))
    else:
        print(f"{result.agents} agents: service level {result.service_level * 100:.1f}%, "
              f"ASA {result.asa_s:.1f} s, occupancy {result.occupancy * 100:.1f}% "
              f"({result.traffic_erlangs:g} Erlangs offered)")
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    stats = sub.add_parser(
        "stats", help="contact-center statistics from the call records 统计分析",
        description="Offered, answered and abandoned calls, 人工接通率 (answer rate), service "
        "level, ASA, AHT, callbacks, overflow, agent time and occupancy, IVR self-service "
        "completion and speech use, counted from the ACD's call records. Dates are whole "
        "days in the center's time zone, both included. Definitions: docs/statistics.md.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="Example: hotline stats --from 2026-12-01 --to 2026-12-07 --by queue "
        "--interval day\nExit 0; 2 for a bad date, interval or time zone.",
    )
    stats.add_argument("--from", dest="date_from", required=True, metavar="DATE",
                       help="first day, YYYY-MM-DD")
    stats.add_argument("--to", dest="date_to", required=True, metavar="DATE",
                       help="last day, YYYY-MM-DD (included)")
    stats.add_argument("--by", choices=report.DIMENSIONS, default="center",
                       help="one row per queue, agent (工号), center or IVR menu branch "
                       "(default center)")
    stats.add_argument("--interval", choices=tuple(INTERVALS),
                       help="cut rows into 15-minute, hourly or daily intervals "
                       "(default: one row per key for the whole period)")
    stats.add_argument("--timezone", metavar="ZONE",
                       help="the center's time zone (default HOTLINE_TIMEZONE, Asia/Shanghai)")
    stats.add_argument("--short-abandon", type=float, metavar="SECONDS",
                       help="callers who hang up sooner are short abandons, reported apart "
                       "(default HOTLINE_SHORT_ABANDON_SECONDS, 5)")
    out = stats.add_mutually_exclusive_group()
    out.add_argument("--json", action="store_true", help="print the report as JSON")
    out.add_argument("--csv", action="store_true", help="print the report as CSV")
    stats.set_defaults(func=_stats)

    staff = sub.add_parser(
        "staffing", help="agents needed for a service-level target (Erlang C)",
        description="The fewest agents that answer the target share of calls within the "
        "target seconds (Erlang C) while keeping occupancy at or under the cap.",
        epilog="Example: hotline staffing --calls-per-hour 200 --aht 180 --target 80/20 --json",
    )
    staff.add_argument("--calls-per-hour", type=float, required=True, metavar="N",
                       help="calls offered per hour")
    staff.add_argument("--aht", type=float, required=True, metavar="SECONDS",
                       help="average handle time: talk + hold + wrap-up, seconds")
    staff.add_argument("--target", default="80/20", metavar="PERCENT/SECONDS",
                       help="service-level target, e.g. 80/20: 80%% within 20 s (default)")
    staff.add_argument("--max-occupancy", type=float, default=0.85, metavar="SHARE",
                       help="highest share of time agents spend on calls (default 0.85)")
    staff.add_argument("--json", action="store_true", help="print the result as JSON")
    staff.set_defaults(func=_staffing)
