"""`hotline qa check [FILE...]`: validate scorecards and print what each one scores."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from app.config import get_settings
from app.qa.scorecard import Scorecard, ScorecardError, load_scorecard


def summary(card: Scorecard) -> str:
    questions = card.questions()
    na = sum(1 for q in questions if q.na)
    sections = ", ".join(f"{s.title} {s.weight:g}" for s in card.sections)
    return (f"{card.name} v{card.version} 《{card.title}》: {len(card.sections)} sections "
            f"(weights: {sections}), {len(questions)} questions "
            f"({sum(q.points for q in questions)} points, {na} may be N/A), "
            f"{len(card.critical)} critical items 否决项")


def _check(args: argparse.Namespace) -> int:
    paths = [Path(f) for f in args.files] or sorted(get_settings().scorecards_dir.glob("*.yaml"))
    if not paths:
        print(f"no scorecards in {get_settings().scorecards_dir}", file=sys.stderr)
        return 1
    failed = False
    for path in paths:
        try:
            card = load_scorecard(path)
        except ScorecardError as exc:
            failed = True
            for problem in exc.problems:
                print(problem, file=sys.stderr)
            continue
        print(f"{path}: ok: {summary(card)}")
    return 1 if failed else 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    qa = sub.add_parser(
        "qa", help="quality assurance: check scorecards 质检评分表",
        description="QA staff score calls with scorecards: YAML files (NAME.yaml in "
        "HOTLINE_SCORECARDS_DIR, default app/qa/scorecards) of sections with questions "
        "(points, weight, whether N/A is allowed) and critical items 否决项 that zero the score.",
    )
    qa_sub = qa.add_subparsers(dest="qa_action", required=True, metavar="ACTION")
    check = qa_sub.add_parser(
        "check", help="validate scorecards; each problem is printed as FILE:LINE: message",
        description="Validate scorecard files: structure, ids (unique, lower-case), points, "
        "weights, and that `name` is the file's name. Prints a summary of each good one; exit "
        "0 when all are good, 1 when a problem was found.",
    )
    check.add_argument("files", nargs="*", metavar="FILE",
                       help="scorecard files (default: every scorecard of the scorecards folder)")
    check.set_defaults(func=_check)
