"""`hotline centers ...` and `hotline agents ...`: contact centers and agents 坐席."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.acd import agents as svc
from app.acd.identity import SKILLS, IdentityError, parse_skills
from app.acd.provisioning import ProvisioningError, apply_agents
from app.acd.states import agent_snapshot
from app.config import get_settings
from app.db.session import Database


async def _with_session(work: Callable[[AsyncSession], Awaitable[int]], *,
                        provision: bool = False) -> int:
    settings = get_settings()
    db = Database(settings.db_url)
    try:
        async with db.session() as session:
            try:
                code = await work(session)
            except IdentityError as exc:
                print(f"hotline: error: {exc}", file=sys.stderr)
                return 2
            await session.commit()
        if provision and code == 0:
            try:
                reloaded = await apply_agents(settings, db)
            except ProvisioningError as exc:
                print(f"hotline: error: {exc}", file=sys.stderr)
                return 2
            print("SIP accounts reloaded in the PBX" if reloaded
                  else "PBX not running: SIP accounts apply when it starts")
        return code
    finally:
        await db.dispose()


def _centers(args: argparse.Namespace) -> int:
    async def work(session: AsyncSession) -> int:
        if args.centers_action == "timezone":
            center = await svc.set_timezone(session, args.center, args.zone)
            print(f"center {center.name}: time zone {center.timezone}")
            return 0
        centers = await svc.list_centers(session)
        if args.json:
            print(json.dumps([{"name": c.name, "code": c.code, "enabled": c.enabled,
                               "timezone": c.timezone} for c in centers], ensure_ascii=False))
        else:
            for c in centers:
                print(f"{c.name}\t{c.code}\t{'enabled' if c.enabled else 'disabled'}\t"
                      f"{c.timezone}")
        return 0

    return asyncio.run(_with_session(work))


def _skills_text(skills: dict[str, int]) -> str:
    return ",".join(f"{k}:{v}" for k, v in sorted(skills.items())) or "-"


def _agents(args: argparse.Namespace) -> int:
    action: str = args.agents_action
    provision = action in ("create", "disable", "password")

    async def work(session: AsyncSession) -> int:
        if action == "create":
            skills = parse_skills(args.skills) if args.skills else {}
            new = await svc.create_agent(session, args.number, name=args.name,
                                         center=args.center, skills=skills,
                                         expert=args.expert, password=args.password)
            a = new.agent
            print(f"agent {a.number} ({a.name}, {a.center.name}) created; "
                  f"SIP user {('agent-' + a.number)}, API user {a.number}")
            if new.generated_password:
                print(f"password (shown once): {new.generated_password}")
        elif action == "list":
            rows = await agent_snapshot(session)
            if args.json:
                print(json.dumps([_snapshot_json(r) for r in rows], ensure_ascii=False))
            else:
                for r in rows:
                    print(f"{r.number}\t{r.name}\t{r.center}\t{r.state.value}"
                          f"{'(' + r.reason + ')' if r.reason else ''}\t"
                          f"{_skills_text(r.skills)}\t{'expert' if r.expert else '-'}\t"
                          f"{'enabled' if r.enabled else 'disabled'}")
        elif action == "set-skills":
            agent = await svc.set_skills(session, args.number, parse_skills(args.skills))
            print(f"agent {agent.number} skills: "
                  f"{_skills_text({s.skill: s.level for s in agent.skills})}")
        elif action == "disable":
            agent = await svc.disable_agent(session, args.number)
            print(f"agent {agent.number} disabled (logged out, SIP account and API user off)")
        elif action == "password":
            generated = await svc.set_password(session, args.number, args.password)
            print(f"agent {args.number}: new password set")
            if generated:
                print(f"password (shown once): {generated}")
        return 0

    return asyncio.run(_with_session(work, provision=provision))


def _snapshot_json(r: Any) -> dict[str, Any]:
    return {
        "number": r.number, "name": r.name, "center": r.center, "center_code": r.center_code,
        "expert": r.expert, "enabled": r.enabled, "state": r.state.value, "reason": r.reason,
        "since": r.since.isoformat() if r.since else None,
        "last_call_end_at": r.last_call_end_at.isoformat() if r.last_call_end_at else None,
        "skills": r.skills,
    }


SKILLS_HELP = (f"comma-separated SKILL:LEVEL, level 1-9, e.g. ticket:5,refund_change:3; "
               f"skills: {', '.join(SKILLS)}")


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    centers = sub.add_parser("centers", help="contact centers (北京, 上海, 太原, ...)",
                             description="The regional contact centers agents belong to.")
    centers_sub = centers.add_subparsers(dest="centers_action", required=True, metavar="ACTION")
    clist = centers_sub.add_parser("list", help="list centers: name, code, enabled")
    clist.add_argument("--json", action="store_true", help="print JSON")
    ctz = centers_sub.add_parser(
        "timezone", help="set a center's time zone (shifts and its days are read in it)",
        description="Set the IANA time zone of a center (default Asia/Shanghai), e.g. "
        "Asia/Urumqi. Shift times are entered and shown in it; stored times do not move.")
    ctz.add_argument("center", help="center name or code")
    ctz.add_argument("zone", help="IANA time zone name, e.g. Asia/Shanghai")
    centers.set_defaults(func=_centers)

    agents = sub.add_parser(
        "agents", help="agents 坐席: create, list, skills, disable, password",
        description="Agents 坐席 by 工号 (4-6 digits). Each agent has a SIP account "
        "(softphone user agent-NO, auth username NO, realm hotline) and an API user named NO "
        "(role agent) with the same password. Changes reach a running PBX at once.",
    )
    asub = agents.add_subparsers(dest="agents_action", required=True, metavar="ACTION")
    create = asub.add_parser("create", help="create an agent with its SIP account and API user")
    create.add_argument("number", metavar="NO", help="工号, 4 to 6 digits")
    create.add_argument("--name", required=True, help="the agent's name")
    create.add_argument("--center", required=True,
                        help="the agent's center by name as `hotline centers list` shows, "
                        "e.g. 北京")
    create.add_argument("--skills", default="", help=SKILLS_HELP)
    create.add_argument("--expert", action="store_true", help="an expert agent 专家坐席")
    create.add_argument("--password",
                        help="at least 8 characters; without it one is generated and printed "
                        "once")
    alist = asub.add_parser("list", help="list agents with state, skills and center")
    alist.add_argument("--json", action="store_true", help="print JSON")
    skills = asub.add_parser("set-skills", help="replace an agent's skills")
    skills.add_argument("number", metavar="NO")
    skills.add_argument("skills", metavar="SKILLS", help=SKILLS_HELP)
    disable = asub.add_parser("disable", help="log out and disable an agent (SIP and API)")
    disable.add_argument("number", metavar="NO")
    pw = asub.add_parser("password", help="set a new SIP and API password")
    pw.add_argument("number", metavar="NO")
    pw.add_argument("--password", help="at least 8 characters; without it one is generated "
                    "and printed once")
    agents.set_defaults(func=_agents)
