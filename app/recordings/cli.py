"""`hotline recordings verify|purge|export`: the stored recordings from the command line."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession

from app.acd.routing import RoutingError, load_routing
from app.config import get_settings
from app.db.session import Database
from app.recordings import library
from app.recordings.retention import Retention


async def _in_session(work: Callable[[AsyncSession], Awaitable[int]]) -> int:
    db = Database(get_settings().db_url)
    try:
        async with db.session() as session:
            code = await work(session)
            await session.commit()
            return code
    finally:
        await db.dispose()


def _verify(args: argparse.Namespace) -> int:
    async def work(session: AsyncSession) -> int:
        result = await library.verify_all(session, get_settings())
        if args.json:
            print(json.dumps(result.as_dict(), ensure_ascii=False))
        else:
            print(f"{result.checked} checked, {result.ok} ok, {len(result.bad)} bad, "
                  f"{len(result.missing)} missing")
            for item in result.bad:
                print(f"BAD      #{item['id']} {item['path']}: {item['reason']}")
            for item in result.missing:
                print(f"MISSING  #{item['id']} {item['path']}")
        return 1 if result.bad or result.missing else 0

    return asyncio.run(_in_session(work))


def _retention(args: argparse.Namespace) -> Retention | None:
    """--older-than for all, else each queue's retention from the routing file; None (and
    the reason on stderr) when either is unusable."""
    if args.older_than is not None:
        if not args.older_than >= 0:
            print("hotline: error: --older-than must be 0 or more days", file=sys.stderr)
            return None
        return Retention.uniform(args.older_than)
    settings = get_settings()
    try:
        rules = load_routing(settings.routing_file)
    except RoutingError as exc:
        print(f"hotline: error: the routing file has problems, nothing purged:\n{exc}",
              file=sys.stderr)
        return None
    return Retention.from_routing(rules, settings.recording_retention_days)


def _purge(args: argparse.Namespace) -> int:
    retention = _retention(args)
    if retention is None:
        return 2

    async def work(session: AsyncSession) -> int:
        found = await library.purge(session, get_settings(), retention, args.dry_run)
        if args.json:
            print(json.dumps({"dry_run": args.dry_run, "retention": retention.as_dict(),
                              "recordings": found}, ensure_ascii=False))
            return 0
        verb = "would delete" if args.dry_run else "deleted"
        if retention.per_queue:
            queues = ", ".join(f"{q} {d:g}" for q, d in sorted(retention.by_queue.items()))
            print(f"{verb} {len(found)} recordings past their retention (default "
                  f"{retention.default_days:g} days" + (f"; {queues}" if queues else "") + ")")
        else:
            print(f"{verb} {len(found)} recordings started more than "
                  f"{retention.default_days:g} days ago")
        for item in found:
            print(f"  #{item['id']} {item['started_at']} {item['queue'] or '-'} "
                  f"({item['retention_days']:g} days) {item['path']}")
        return 0

    return asyncio.run(_in_session(work))


def _export(args: argparse.Namespace) -> int:
    async def work(session: AsyncSession) -> int:
        try:
            seconds = await library.export(session, get_settings(), args.call_id,
                                           args.channel, Path(args.output))
        except library.ExportError as exc:
            print(f"hotline: error: {exc}", file=sys.stderr)
            return 1
        print(f"wrote {args.output}: {args.channel}, {seconds:.1f} s")
        return 0

    return asyncio.run(_in_session(work))


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    rec = sub.add_parser("recordings", help="verify, purge and export call recordings",
                         description="Recordings of callers' conversations with agents "
                         "(stereo WAV: caller left, agent right) under the state dir.")
    rec_sub = rec.add_subparsers(dest="recordings_command", required=True)
    verify = rec_sub.add_parser(
        "verify", help="re-read every recording: header, length, checksum",
        description="Re-read every kept recording and compare it with its stored size and "
        "sha256. Exit 1 when any is bad or missing.")
    verify.add_argument("--json", action="store_true",
                        help='print {"checked", "ok", "bad": [...], "missing": [...]}')
    verify.set_defaults(func=_verify)
    purge = rec_sub.add_parser(
        "purge", help="delete recordings past their queue's retention (audited)",
        description="Delete the files of recordings past their retention; each keeps its "
        "row (status purged) and an audit entry. Without --older-than each recording is kept "
        "for its queue's retention_days (routing file), or HOTLINE_RECORDING_RETENTION_DAYS "
        "(default 180) when the queue sets none or the call never reached a queue. "
        "--older-than DAYS applies one number to every recording instead. Run it daily, e.g. "
        "from cron, and with --dry-run first to see what would go.")
    purge.add_argument("--older-than", type=float, metavar="DAYS",
                       help="delete every recording started more than DAYS ago, whatever "
                       "its queue's retention")
    purge.add_argument("--dry-run", action="store_true", help="list them, delete nothing")
    purge.add_argument("--json", action="store_true",
                       help='print {"dry_run", "retention", "recordings": [...]}')
    purge.set_defaults(func=_purge)
    export = rec_sub.add_parser(
        "export", help="write one call's recording as WAV (one side or both)",
        description="Write the call's caller side, agent side (mono) or both (stereo), "
        "8 kHz 16-bit, for the whole call: silence where nothing was recorded.")
    export.add_argument("call_id", metavar="CALL_ID")
    export.add_argument("--channel", choices=sorted(library.SIDES), default="both")
    export.add_argument("-o", "--output", required=True, metavar="FILE.wav")
    export.set_defaults(func=_export)
