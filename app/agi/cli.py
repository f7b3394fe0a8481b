"""`hotline agi ...`: the tables the dialplan services read (blocklist, special passengers,
business calendar, called-number routes) and a preview of what a call would get."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Awaitable, Callable
from datetime import date, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from app.agi import answers, store
from app.agi.models import PeriodKind
from app.config import get_settings
from app.core.clock import CST, as_utc, now
from app.db.session import Database
from app.ivr.library import flow_names

Action = Callable[[AsyncSession, argparse.Namespace], Awaitable[int]]


def _run(action: Action) -> Callable[[argparse.Namespace], int]:
    def run(args: argparse.Namespace) -> int:
        async def go() -> int:
            db = Database(get_settings().db_url)
            try:
                async with db.session() as session:
                    code = await action(session, args)
                    await session.commit()
                    return code
            finally:
                await db.dispose()

        try:
            return asyncio.run(go())
        except store.StoreError as exc:
            print(f"hotline agi: error: {exc}", file=sys.stderr)
            return 2

    return run


def _until(text: str | None) -> datetime | None:
    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise store.StoreError(
            f"--until {text!r}: write 2026-12-31 or 2026-12-31T18:00+08:00") from None
    if moment.tzinfo is None:  # a local date or time: China Standard Time
        moment = moment.replace(tzinfo=CST)
    return moment


def _gone(found: bool, what: str) -> int:
    if not found:
        print(f"hotline agi: no {what}", file=sys.stderr)
        return 1
    print(f"removed {what}")
    return 0


async def _block(session: AsyncSession, args: argparse.Namespace) -> int:
    entry = await store.block(session, args.number, args.reason, _until(args.until))
    until = (f"until {as_utc(entry.expires_at).astimezone(CST):%Y-%m-%d %H:%M} CST"
             if entry.expires_at else "until removed")
    print(f"blocked {entry.number} ({entry.reason}), {until}")
    return 0


async def _unblock(session: AsyncSession, args: argparse.Namespace) -> int:
    return _gone(await store.unblock(session, args.number), f"blocked number {args.number}")


async def _blocked(session: AsyncSession, args: argparse.Namespace) -> int:
    for b in await store.blocked(session):
        until = f"{as_utc(b.expires_at).astimezone(CST):%Y-%m-%d %H:%M}" if b.expires_at else "-"
        print(f"{b.number}\t{b.hits} calls refused\tuntil {until}\t{b.reason}")
    return 0


async def _special(session: AsyncSession, args: argparse.Namespace) -> int:
    if args.remove:
        return _gone(await store.remove_special(session, args.number),
                     f"special passenger {args.number}")
    entry = await store.add_special(session, args.number, args.note)
    print(f"special passenger {entry.number} registered")
    return 0


async def _specials(session: AsyncSession, args: argparse.Namespace) -> int:
    for s in await store.specials(session):
        print(f"{s.number}\t{s.note}")
    return 0


async def _hours(session: AsyncSession, args: argparse.Namespace) -> int:
    if args.spans is not None:
        spans = []
        for item in args.spans:
            days, _, span = item.partition("=")
            opens, _, closes = span.partition("-")
            if not span or not closes:
                raise store.StoreError(
                    f"{item!r}: write DAYS=HH:MM-HH:MM, e.g. mon-fri=08:00-20:00")
            first, _, last = days.partition("-")
            lo, hi = store.parse_weekday(first), store.parse_weekday(last or first)
            for day in range(lo, hi + 1):
                spans.append((day, store.parse_time(opens), store.parse_time(closes)))
        await store.set_weekly_hours(session, spans)
    rows = await store.weekly_hours(session)
    if not rows:
        print("no weekly hours: agents are open around the clock (outside holidays)")
    for h in rows:
        closes = "24:00" if h.closes.hour == 0 and h.closes.minute == 0 else f"{h.closes:%H:%M}"
        print(f"{store.WEEKDAYS[h.weekday]}\t{h.opens:%H:%M}-{closes}")
    return 0


async def _period(session: AsyncSession, args: argparse.Namespace) -> int:
    if args.remove:
        return _gone(await store.remove_period(session, args.name), f"period {args.name}")
    if args.first is None:
        raise store.StoreError("give the period's days: --from YYYY-MM-DD --to YYYY-MM-DD")
    opens = closes = None
    if args.hours:
        o, _, c = args.hours.partition("-")
        opens, closes = store.parse_time(o), store.parse_time(c)
    entry = await store.set_period(session, args.name, PeriodKind(args.kind),
                                   date.fromisoformat(args.first),
                                   date.fromisoformat(args.last or args.first), opens, closes)
    print(f"{entry.kind.value} {entry.name}: {entry.first_day} .. {entry.last_day}")
    return 0


async def _periods(session: AsyncSession, args: argparse.Namespace) -> int:
    for p in await store.periods(session):
        hours = f"{p.opens:%H:%M}-{p.closes:%H:%M}" if p.opens and p.closes else (
            "closed" if p.kind == PeriodKind.HOLIDAY else "all day")
        print(f"{p.name}\t{p.kind.value}\t{p.first_day} .. {p.last_day}\t{hours}")
    return 0


async def _route(session: AsyncSession, args: argparse.Namespace) -> int:
    if args.remove:
        return _gone(await store.remove_route(session, args.called), f"route for {args.called}")
    if not args.flow:
        raise store.StoreError("give the flow: hotline agi route NUMBER FLOW")
    known = flow_names(get_settings().flows_dir)
    entry = await store.set_route(session, args.called, args.flow, known, args.note)
    print(f"calls to {entry.called} run flow {entry.flow}")
    return 0


async def _routes(session: AsyncSession, args: argparse.Namespace) -> int:
    for r in await store.routes(session):
        print(f"{r.called}\t{r.flow}\t{r.note}")
    return 0


async def _preview(session: AsyncSession, args: argparse.Namespace) -> int:
    values = await answers.preview(session, args.caller, args.called, now())
    for key, value in values.items():
        print(f"{key}={value}")
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    agi = sub.add_parser(
        "agi", help="edit what the dialplan services answer (blocklist, hours, routes)",
        description="The dialplan asks `hotline serve` (FastAGI) about each call before the "
        "menu: caller_profile (blocklist, special passengers, language, repeat calls), "
        "business_hours (weekly hours, holidays, peak periods) and route (the menu variant of "
        "the called number). These commands edit their tables; a running `hotline serve` uses "
        "a change within a second.",
    )
    acts = agi.add_subparsers(dest="agi_action", required=True, metavar="ACTION")

    p = acts.add_parser("block", help="block a harassing number (message, then hang up)")
    p.add_argument("number")
    p.add_argument("--reason", required=True, help="why (kept with the entry)")
    p.add_argument("--until", help="expiry: 2026-12-31 or 2026-12-31T18:00 (CST unless a zone "
                   "is given); default: until unblocked")
    p.set_defaults(func=_run(_block))
    p = acts.add_parser("unblock", help="remove a number from the blocklist")
    p.add_argument("number")
    p.set_defaults(func=_run(_unblock))
    acts.add_parser("blocked", help="list the blocklist with calls refused").set_defaults(
        func=_run(_blocked))

    p = acts.add_parser("special", help="register a special passenger's number (重点旅客)")
    p.add_argument("number")
    p.add_argument("--note", default="", help="e.g. wheelchair, visually impaired")
    p.add_argument("--remove", action="store_true", help="remove the number instead")
    p.set_defaults(func=_run(_special))
    acts.add_parser("specials", help="list special passengers").set_defaults(
        func=_run(_specials))

    p = acts.add_parser(
        "hours", help="show or replace the agents' weekly hours (CST)",
        description="Without --set: show them. With --set: replace the whole week; a day "
        "without a span is closed; `--set` alone clears them (open around the clock).",
        epilog="Example: hotline agi hours --set mon-fri=08:00-20:00 sat-sun=09:00-17:00")
    p.add_argument("--set", dest="spans", nargs="*", metavar="DAYS=HH:MM-HH:MM")
    p.set_defaults(func=_run(_hours))

    p = acts.add_parser(
        "period", help="add, change or remove a holiday or peak period (春运)",
        epilog="Example: hotline agi period chunyun-2027 --kind peak --from 2027-01-22 "
        "--to 2027-03-02 --hours 06:00-24:00")
    p.add_argument("name")
    p.add_argument("--kind", choices=[k.value for k in PeriodKind], default="holiday")
    p.add_argument("--from", dest="first", metavar="YYYY-MM-DD")
    p.add_argument("--to", dest="last", metavar="YYYY-MM-DD", help="default: the --from day")
    p.add_argument("--hours", metavar="HH:MM-HH:MM",
                   help="agents' hours on those days; default: a holiday is closed, a peak "
                   "open all day")
    p.add_argument("--remove", action="store_true")
    p.set_defaults(func=_run(_period))
    acts.add_parser("periods", help="list holidays and peak periods").set_defaults(
        func=_run(_periods))

    p = acts.add_parser("route", help="give a called number its menu variant (a flow name)")
    p.add_argument("called")
    p.add_argument("flow", nargs="?", help="`flow:` name of a file in the flows folder")
    p.add_argument("--note", default="")
    p.add_argument("--remove", action="store_true")
    p.set_defaults(func=_run(_route))
    acts.add_parser("routes", help="list called-number routes").set_defaults(
        func=_run(_routes))

    p = acts.add_parser("preview", help="the variables a call would get now")
    p.add_argument("caller")
    p.add_argument("called")
    p.set_defaults(func=_run(_preview))
