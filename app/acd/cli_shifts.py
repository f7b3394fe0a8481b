"""`hotline shifts ...`: agents' shifts 班务 per center, and the roster (scheduled vs logged in)."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from app.acd import shifts as svc
from app.acd.identity import IdentityError
from app.config import get_settings
from app.core.clock import now
from app.db.models import Shift
from app.db.session import Database

LIST_DAYS = 7


def _run(work: Callable[[AsyncSession], Awaitable[int]]) -> int:
    async def go() -> int:
        db = Database(get_settings().db_url)
        try:
            async with db.session() as session:
                try:
                    code = await work(session)
                except IdentityError as exc:  # ShiftError and AgentError among them
                    print(f"hotline: error: {exc}", file=sys.stderr)
                    return 2
                await session.commit()
                return code
        finally:
            await db.dispose()

    return asyncio.run(go())


def _line(s: Shift) -> str:
    j = svc.shift_json(s)
    start, end = str(j["start"]), str(j["end"])
    return (f"{j['id']}\t{j['agent']}\t{j['agent_name']}\t{j['center']}\t"
            f"{start[:16].replace('T', ' ')} - {end[:16].replace('T', ' ')}\t{j['note'] or '-'}")


def _add(args: argparse.Namespace) -> int:
    async def work(session: AsyncSession) -> int:
        added = await svc.add_daily(
            session, args.number, svc.parse_day(args.date), svc.parse_clock(args.start),
            svc.parse_clock(args.end), days=args.days, by="cli", center=args.center,
            note=args.note)
        if args.json:
            print(json.dumps([svc.shift_json(s) for s in added], ensure_ascii=False))
        else:
            for s in added:
                print(f"added {_line(s)}")
        return 0

    return _run(work)


def _list(args: argparse.Namespace) -> int:
    async def work(session: AsyncSession) -> int:
        tz = await svc.zone_of(session, args.center)
        first = svc.parse_day(args.date_from) if args.date_from else now().astimezone(tz).date()
        last = (svc.parse_day(args.date_to) if args.date_to
                else first + timedelta(days=LIST_DAYS - 1))
        begins, ends = svc.day_bounds(tz, first, last)
        found = await svc.list_shifts(session, begins=begins, ends=ends, center=args.center,
                                      agent=args.agent)
        if args.json:
            print(json.dumps([svc.shift_json(s) for s in found], ensure_ascii=False))
        else:
            for s in found:
                print(_line(s))
        return 0

    return _run(work)


def _remove(args: argparse.Namespace) -> int:
    async def work(session: AsyncSession) -> int:
        gone = await svc.remove_shift(session, args.id)
        if args.json:
            print(json.dumps(svc.shift_json(gone), ensure_ascii=False))
        else:
            print(f"removed {_line(gone)}")
        return 0

    return _run(work)


def _roster(args: argparse.Namespace) -> int:
    async def work(session: AsyncSession) -> int:
        at = now()
        if args.at:
            try:
                at = datetime.fromisoformat(args.at)
            except ValueError:
                raise svc.ShiftError(f"--at {args.at!r} is not 'YYYY-MM-DD HH:MM'") from None
        center, rows = await svc.roster(session, args.center, at)
        if args.json:
            print(json.dumps({"center": center.name, "timezone": center.timezone,
                              "at": svc.in_zone(center, at).astimezone(svc.zone(center))
                              .isoformat(),
                              "rows": [r.json() for r in rows]}, ensure_ascii=False))
        else:
            for r in rows:
                span = "-"
                if r.shift is not None:
                    j = svc.shift_json(r.shift)
                    span = f"{str(j['start'])[11:16]}-{str(j['end'])[11:16]}"
                print(f"{r.number}\t{r.name}\t{r.status}\t{span}\t{r.state.value}"
                      f"{'(' + r.reason + ')' if r.reason else ''}")
        return 0

    return _run(work)


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    shifts = sub.add_parser(
        "shifts", help="agents' shifts 班务: add, list, remove, roster",
        description="Shifts 班次 per center and agent. Dates and times are in the center's time "
        "zone (Asia/Shanghai unless the center says otherwise); a shift whose end is not after "
        "its start runs overnight (22:00-06:00). One agent's shifts may not overlap.",
    )
    ssub = shifts.add_subparsers(dest="shifts_action", required=True, metavar="ACTION")
    add = ssub.add_parser("add", help="schedule an agent, on one day or several in a row",
                          description="Schedule agent NO from --start to --end on --date (and "
                          "the following days with --days). All or none are added.",
                          epilog="Example: hotline shifts add 1001 --date 2026-12-01 "
                          "--start 08:00 --end 17:00 --days 5")
    add.add_argument("number", metavar="NO", help="the agent's 工号")
    add.add_argument("--date", required=True, help="first day, YYYY-MM-DD")
    add.add_argument("--start", required=True, help="start time HH:MM (24-hour)")
    add.add_argument("--end", required=True,
                     help="end time HH:MM; not after --start means the next day")
    add.add_argument("--days", type=int, default=1,
                     help=f"the same shift on this many days in a row (1-{svc.MAX_DAYS}, "
                     "default 1)")
    add.add_argument("--center", help="center name or code (default: the agent's own)")
    add.add_argument("--note", help="free text shown with the shift, e.g. 早班")
    add.add_argument("--json", action="store_true", help="print the added shifts as JSON")
    add.set_defaults(func=_add)

    lst = ssub.add_parser("list", help="shifts overlapping a range of days",
                          description="List shifts overlapping the days --from to --to "
                          f"(inclusive; default: today and the next {LIST_DAYS - 1} days): "
                          "id, agent, name, center, start - end, note.")
    lst.add_argument("--center", help="only this center (name or code)")
    lst.add_argument("--agent", metavar="NO", help="only this agent")
    lst.add_argument("--from", dest="date_from", help="first day YYYY-MM-DD (default today)")
    lst.add_argument("--to", dest="date_to", help="last day YYYY-MM-DD, inclusive")
    lst.add_argument("--json", action="store_true", help="print JSON")
    lst.set_defaults(func=_list)

    rm = ssub.add_parser("remove", help="delete a shift by id (from `hotline shifts list`)")
    rm.add_argument("id", type=int, help="the shift's id")
    rm.add_argument("--json", action="store_true", help="print the removed shift as JSON")
    rm.set_defaults(func=_remove)

    ros = ssub.add_parser(
        "roster", help="who is scheduled vs logged in at a center",
        description="The center's agents at one moment: status present (on shift, logged "
        "in), absent (on shift, logged out) or extra (logged in without a shift), with the "
        "shift and the agent's live state.")
    ros.add_argument("--center", required=True, help="center name or code")
    ros.add_argument("--at", help="'YYYY-MM-DD HH:MM' in the center's time zone (default now); "
                     "the states shown are always the live ones")
    ros.add_argument("--json", action="store_true", help="print JSON")
    ros.set_defaults(func=_roster)
