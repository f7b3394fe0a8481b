"""`hotline routing check [FILE]`: the routing file and the IVR flows' queue names together."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from app.acd.routing import ROUTING_FILE, RoutingError, RoutingRules, load_routing
from app.asr.lexicon import INTENTS
from app.ivr.loader import FLOWS_DIR, FlowError, Problem, load_flow
from app.ivr.model import EnqueueStep, Flow


@dataclass
class CheckResult:
    rules: RoutingRules | None
    flows: list[Flow] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)


def check_routing(
    routing_file: Path = ROUTING_FILE, flow_files: Sequence[Path] | None = None
) -> CheckResult:
    """Validate the routing file, then check that every flow's `enqueue` names one of its
    queues. Skill-map names must be menu branches of these flows or recognised intents."""
    result = CheckResult(rules=None)
    paths = list(flow_files) if flow_files is not None else sorted(FLOWS_DIR.glob("*.yaml"))
    for path in paths:
        try:
            result.flows.append(load_flow(path))
        except FlowError as exc:
            result.problems.extend(exc.problems)
    hints = set(INTENTS) | {node for flow in result.flows for node in flow.nodes}
    try:
        result.rules = load_routing(routing_file, known_hints=hints)
    except RoutingError as exc:
        result.problems[:0] = exc.problems
        return result
    queues = result.rules.queues
    for flow in result.flows:
        for steps in flow.nodes.values():
            for step in steps:
                if isinstance(step.args, EnqueueStep) and step.args.queue not in queues:
                    result.problems.append(Problem(
                        flow.source, step.line,
                        f"enqueue: queue '{step.args.queue}' is not in the routing file "
                        f"{routing_file} (known: {', '.join(sorted(result.rules.queues))})",
                    ))
    return result


def _check(args: argparse.Namespace) -> int:
    from app.config import get_settings

    # The file the platform would use (HOTLINE_ROUTING_FILE), not always the shipped one.
    routing_file = Path(args.file) if args.file else get_settings().routing_file
    flow_files = [Path(f) for f in args.flows] if args.flows else None
    result = check_routing(routing_file, flow_files)
    for problem in result.problems:
        print(problem, file=sys.stderr)
    if result.problems or result.rules is None:
        return 1
    rules = result.rules
    print(f"{routing_file}: ok ({len(rules.queues)} queues, {len(rules.centers.names)} centers, "
          f"{len(result.flows)} flows checked)")
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    routing = sub.add_parser(
        "routing",
        help="check the ACD routing file (queues, skills, overflow, centers)",
        description="Calls waiting for an agent are routed by app/acd/routing.yaml: queues "
        "and their skills, timers and overflow between centers, and the table that chooses "
        "a call's center.",
    )
    routing_sub = routing.add_subparsers(dest="routing_action", required=True, metavar="ACTION")
    check = routing_sub.add_parser(
        "check",
        help="validate the routing file; each problem is printed as FILE:LINE: message",
        description="Validate the routing file (default: the platform's, HOTLINE_ROUTING_FILE, "
        "else app/acd/routing.yaml): structure, "
        "skills, timers, centers and overflow targets; and check that every "
        "`enqueue: {queue: NAME}` in the IVR flows names a queue of the routing file. "
        "Exit 0 when all is well, 1 when a problem was found.",
    )
    check.add_argument("file", nargs="?",
                       help="routing file (default: HOTLINE_ROUTING_FILE, else the shipped one)")
    check.add_argument("--flows", nargs="+", metavar="FLOW",
                       help="flow files to check against it (default: all shipped flows)")
    check.set_defaults(func=_check)
