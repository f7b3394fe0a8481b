"""`hotline db ...` and `hotline users ...` commands."""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from datetime import date
from pathlib import Path

from sqlalchemy import func, select

from app.admin.demo_data import SeedError, seed_demo
from app.config import get_settings
from app.db import migrate
from app.db.models import Role, Station
from app.db.session import Database
from app.services.auth import (
    UserError,
    create_user,
    issue_token,
    list_tokens,
    list_users,
    revoke_tokens,
    set_password,
)


def _ensure_sqlite_dir(url: str) -> None:
    if url.startswith("sqlite:///"):
        Path(url[len("sqlite:///"):]).parent.mkdir(parents=True, exist_ok=True)


def _db(args: argparse.Namespace) -> int:
    url = get_settings().db_url
    _ensure_sqlite_dir(url)
    if args.db_action == "upgrade":
        started = time.monotonic()
        migrate.upgrade(url, args.revision)
        print(f"database at {args.revision} ({time.monotonic() - started:.1f} s)")
    elif args.db_action == "downgrade":
        migrate.downgrade(url, args.revision)
        print(f"database downgraded to {args.revision}")
    elif args.db_action == "seed":
        if not args.demo:
            print("hotline db seed: say --demo to load the demo data set", file=sys.stderr)
            return 2
        return asyncio.run(_seed(url, args))
    return 0


async def _seed(url: str, args: argparse.Namespace) -> int:
    db = Database(url)
    started = time.monotonic()
    try:
        async with db.session() as session:
            if args.if_empty and await session.scalar(
                select(func.count()).select_from(Station)
            ):
                print("database has data already; demo seed skipped")
                return 0
            try:
                await seed_demo(session, orders=args.orders, seed=args.seed,
                                today=args.today, days=args.days)
            except SeedError as exc:
                print(f"hotline db seed: {exc}", file=sys.stderr)
                return 2
            await session.commit()
    finally:
        await db.dispose()
    print(f"demo data seeded in {time.monotonic() - started:.1f} s")
    return 0


def _users(args: argparse.Namespace) -> int:
    return asyncio.run(_users_async(args))


async def _users_async(args: argparse.Namespace) -> int:
    settings = get_settings()
    db = Database(settings.db_url)
    days = settings.token_days if getattr(args, "days", None) is None else args.days
    try:
        async with db.session() as session:
            try:
                if args.users_action == "create":
                    user = await create_user(session, args.name, Role(args.role))
                    print(f"user {user.name} ({user.role.value}) created")
                    if args.password is not None or args.login:
                        shown = await set_password(session, args.name, args.password)
                        if shown:
                            print(f"web login password (shown once): {shown}")
                    if args.token:
                        print(await issue_token(session, args.name, days))
                elif args.users_action == "password":
                    shown = await set_password(session, args.name, args.password)
                    print(f"password of {args.name} set" +
                          (f" (shown once): {shown}" if shown else ""))
                elif args.users_action == "token":
                    print(await issue_token(session, args.name, days))
                elif args.users_action == "revoke":
                    count = await revoke_tokens(session, args.name, args.token)
                    print(f"{count} token(s) of {args.name} revoked; running servers refuse "
                          f"them within {settings.token_cache_seconds:g} s")
                elif args.users_action == "tokens":
                    for tok in await list_tokens(session, args.name):
                        state = "revoked" if tok.revoked else "active"
                        expires = tok.expires_at.date() if tok.expires_at else "never"
                        print(f"{tok.prefix}…\t{state}\tcreated {tok.created_at.date()}\t"
                              f"expires {expires}")
                else:
                    for user in await list_users(session):
                        print(f"{user.name}\t{user.role.value}\t"
                              f"{'active' if user.active else 'inactive'}")
            except UserError as exc:
                print(f"hotline users: {exc}", file=sys.stderr)
                return 2
            await session.commit()
    finally:
        await db.dispose()
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    db = sub.add_parser("db", help="database migrations and demo data",
                        description="Database (HOTLINE_DATABASE_URL; SQLite under the state "
                        "directory by default).")
    db_sub = db.add_subparsers(dest="db_action", required=True, metavar="ACTION")
    up = db_sub.add_parser("upgrade", help="apply migrations (Alembic)")
    up.add_argument("revision", nargs="?", default="head")
    down = db_sub.add_parser("downgrade", help="revert migrations down to REVISION")
    down.add_argument("revision", help="target revision, e.g. base")
    seed = db_sub.add_parser("seed", help="load deterministic demo data into an empty database")
    seed.add_argument("--demo", action="store_true", help="the demo data set")
    seed.add_argument("--orders", type=int, default=200, help="orders to create (default 200)")
    seed.add_argument("--seed", type=int, default=12306, help="random seed (default 12306)")
    seed.add_argument("--today", type=date.fromisoformat, default=None,
                      help="the day the data is built around (default: today, CST)")
    seed.add_argument("--days", type=int, default=7, help="days of train runs from today")
    seed.add_argument("--if-empty", action="store_true",
                      help="do nothing (and succeed) when the database has data")
    db.set_defaults(func=_db)

    users = sub.add_parser("users", help="API users, roles and tokens")
    users_sub = users.add_subparsers(dest="users_action", required=True, metavar="ACTION")
    create = users_sub.add_parser("create", help="create a user with a role")
    create.add_argument("name")
    create.add_argument("--role", required=True, choices=[r.value for r in Role])
    create.add_argument("--token", action="store_true", help="also issue and print a token")
    create.add_argument("--password", default=None,
                        help="web login password (at least 8 characters) for the pages")
    create.add_argument("--login", action="store_true",
                        help="generate a web login password and print it once")
    days_help = "days until the token expires (default HOTLINE_TOKEN_DAYS, 90)"
    create.add_argument("--days", type=float, default=None, help=days_help)
    password = users_sub.add_parser(
        "password", help="set a user's web login password (generated and printed once "
        "without --password)")
    password.add_argument("name")
    password.add_argument("--password", default=None, help="the new password (8+ characters)")
    token = users_sub.add_parser("token", help="issue a new API token (printed once)")
    token.add_argument("name")
    token.add_argument("--days", type=float, default=None, help=days_help)
    revoke = users_sub.add_parser(
        "revoke", help="revoke a user's API tokens (all, or one with --token)",
        description="Revoke API tokens. Running servers refuse a revoked token within "
        "HOTLINE_TOKEN_CACHE_SECONDS (2 s by default, never more than 5 s).")
    revoke.add_argument("name")
    revoke.add_argument("--token", metavar="PREFIX", default=None,
                        help="only the token starting with PREFIX (its first 8-12 characters, "
                        "as `hotline users tokens NAME` shows them)")
    tokens = users_sub.add_parser("tokens", help="list a user's tokens (prefix, state, expiry)")
    tokens.add_argument("name")
    users_sub.add_parser("list", help="list users")
    users.set_defaults(func=_users)
