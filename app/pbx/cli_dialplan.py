"""`hotline dialplan check [DIR]` and `hotline dialplan show [CONTEXT]`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from app.config import get_settings
from app.pbx import sandbox


def _dialplan(args: argparse.Namespace) -> int:
    settings = get_settings()
    if args.dialplan_action == "check":
        from app.pbx.check import check_dialplan

        result = check_dialplan(settings, Path(args.dir) if args.dir else None)
        for problem in result.problems:
            print(problem)
        if not result.ok:
            print(f"{len(result.problems)} problems", file=sys.stderr)
            return 1
        print(result.summary())
        return 0
    command = f"dialplan show {args.context}" if args.context else "dialplan show"
    sys.stdout.write(sandbox.cli(settings, command))
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    dp = sub.add_parser(
        "dialplan", help="check the dialplan files or show what the PBX loaded (needs root)",
        description="Check the engineers' Asterisk config before it is applied, or show the "
        "dialplan the running PBX has loaded.")
    acts = dp.add_subparsers(dest="dialplan_action", required=True, metavar="ACTION")
    check = acts.add_parser(
        "check", help="render DIR and have a throwaway Asterisk load it",
        description="Render DIR (default: the dialplans folder, HOTLINE_DIALPLANS_DIR) and have "
        "Asterisk load it in a throwaway instance with no SIP, HTTP or AMI listener. Prints "
        "FILE:LINE: message for unknown placeholders, what Asterisk's loader rejected and "
        "applications this Asterisk does not have; exit 1 on any, else 0 and a summary.")
    check.add_argument("dir", nargs="?", help="folder of .conf files (default: dialplans/)")
    show = acts.add_parser("show", help="print the dialplan the running PBX loaded")
    show.add_argument("context", nargs="?", help="one context, or EXTEN@CONTEXT")
    dp.set_defaults(func=_dialplan)
