"""`hotline recordings verify|purge|export`: the stored recordings from the command line."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession

from app.config import get_settings
from app.db.session import Database
from app.recordings import library


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


def _purge(args: argparse.Namespace) -> int:
    if args.older_than < 0:
        print("hotline: error: --older-than must be 0 or more days", file=sys.stderr)
        return 2

    async def work(session: AsyncSession) -> int:
        found = await library.purge(session, get_settings(), args.older_than, args.dry_run)
        if args.json:
            print(json.dumps({"dry_run": args.dry_run, "recordings": found},
                             ensure_ascii=False))
        else:
            verb = "would delete" if args.dry_run else "deleted"
            print(f"{verb} {len(found)} recordings started more than {args.older_than:g} "
                  "days ago")
            for item in found:
                print(f"  #{item['id']} {item['started_at']} {item['path']}")
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
        "purge", help="delete recordings older than N days (audited)",
        description="Delete the files of recordings started more than N days ago; each "
        "keeps its row (status purged) and an audit entry.")
    purge.add_argument("--older-than", type=float, required=True, metavar="DAYS")
    purge.add_argument("--dry-run", action="store_true", help="list them, delete nothing")
    purge.add_argument("--json", action="store_true")
    purge.set_defaults(func=_purge)
    export = rec_sub.add_parser(
        "export", help="write one call's recording as WAV (one side or both)",
        description="Write the call's caller side, agent side (mono) or both (stereo), "
        "8 kHz 16-bit, for the whole call: silence where nothing was recorded.")
    export.add_argument("call_id", metavar="CALL_ID")
    export.add_argument("--channel", choices=sorted(library.SIDES), default="both")
    export.add_argument("-o", "--output", required=True, metavar="FILE.wav")
    export.set_defaults(func=_export)
