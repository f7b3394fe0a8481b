"""`hotline flows check [FILE]`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from app.ivr.actions import ACTIONS
from app.ivr.loader import FLOWS_DIR, FlowError, load_flow


def known_prompts() -> set[str] | None:
    try:
        from app.tts.catalog import load_catalog
    except ImportError:
        return None
    return set(load_catalog().prompts)


def _check(args: argparse.Namespace) -> int:
    files = [Path(f) for f in args.files] or sorted(FLOWS_DIR.glob("*.yaml"))
    if not files:
        print(f"no flow files in {FLOWS_DIR}", file=sys.stderr)
        return 2
    prompts = known_prompts()
    failed = False
    for path in files:
        try:
            flow = load_flow(path, prompts, set(ACTIONS))
        except FlowError as exc:
            failed = True
            for problem in exc.problems:
                print(problem, file=sys.stderr)
            continue
        print(f"{path}: ok (flow {flow.name}, {len(flow.nodes)} nodes)")
    return 1 if failed else 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    flows = sub.add_parser(
        "flows",
        help="check the IVR flow files",
        description="IVR flows are YAML files in app/ivr/flows/.",
    )
    flows_sub = flows.add_subparsers(dest="flows_action", required=True, metavar="ACTION")
    check = flows_sub.add_parser(
        "check",
        help="validate flow files; each problem is printed as FILE:LINE: message",
        description="Validate flow files (default: all in app/ivr/flows/): structure, step "
        "arguments, node references, prompt ids against the prompt catalog, action names.",
    )
    check.add_argument("files", nargs="*", help="flow files (default: all shipped flows)")
    check.set_defaults(func=_check)
