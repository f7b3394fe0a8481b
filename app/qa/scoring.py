"""Scoring rules: an evaluation's total from its answers, averages over evaluations, and the
calibration of evaluators who scored the same call. No database here (app.qa.evaluations
stores and queries).

The total is out of 100:

- a section's rate = Σ weight × points ÷ Σ weight × maximum points, over its questions that
  are not N/A (N/A leaves the maximum too);
- total = 100 × Σ section weight × rate ÷ Σ section weight, over sections with at least one
  applicable question;
- any failed critical item 否决项 makes the total 0.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from app.qa.scorecard import Scorecard


@dataclass(frozen=True)
class Answer:
    question: str
    points: float | None = None  # questions: 0..points of the question
    na: bool = False  # questions that allow it: not applicable to this call
    failed: bool | None = None  # critical items: whether the call failed it
    comment: str | None = None


@dataclass(frozen=True)
class AnswerProblem:
    field: str  # where in the request: answers.3.points
    message: str


class AnswerError(ValueError):
    def __init__(self, problems: list[AnswerProblem]) -> None:
        self.problems = problems
        super().__init__("; ".join(p.message for p in problems))


@dataclass(frozen=True)
class SectionScore:
    id: str
    title: str
    weight: float
    earned: float  # Σ weight × points of its applicable questions
    maximum: float  # Σ weight × maximum points of its applicable questions
    rate: float | None  # earned ÷ maximum; None when every question was N/A


@dataclass(frozen=True)
class Score:
    total: float  # 0-100, two decimals
    sections: list[SectionScore]
    critical_failed: list[str]  # ids of the failed critical items (total 0 when any)


def check_answers(card: Scorecard, answers: Sequence[Answer]) -> dict[str, Answer]:
    """The answers by item id; AnswerError listing every problem: unknown or repeated items,
    missing ones, points out of range, N/A where not allowed, critical items not answered
    with failed true or false."""
    problems: list[AnswerProblem] = []
    by_id: dict[str, Answer] = {}
    for i, answer in enumerate(answers):
        where = f"answers.{i}"
        question = card.question(answer.question)
        critical = card.critical_item(answer.question)
        if question is None and critical is None:
            problems.append(AnswerProblem(
                f"{where}.question", f"unknown question '{answer.question}' in scorecard "
                f"{card.name} v{card.version} (known: {', '.join(card.item_ids())})"))
            continue
        if answer.question in by_id:
            problems.append(AnswerProblem(f"{where}.question",
                                          f"question '{answer.question}' is answered twice"))
            continue
        by_id[answer.question] = answer
        if critical is not None:
            if answer.failed is None or answer.points is not None or answer.na:
                problems.append(AnswerProblem(
                    f"{where}.failed", f"critical item '{critical.id}' is answered with failed: "
                    "true or false only (no points, no N/A)"))
            continue
        assert question is not None
        if answer.failed is not None:
            problems.append(AnswerProblem(
                f"{where}.failed", f"question '{question.id}' takes points or N/A; failed is "
                "only for critical items"))
        elif answer.na:
            if answer.points is not None:
                problems.append(AnswerProblem(
                    f"{where}.points", f"question '{question.id}': give points or N/A, not both"))
            elif not question.na:
                problems.append(AnswerProblem(
                    f"{where}.na", f"question '{question.id}' does not allow N/A; give 0 to "
                    f"{question.points} points"))
        elif answer.points is None:
            problems.append(AnswerProblem(
                f"{where}.points", f"question '{question.id}' needs points (0 to "
                f"{question.points})" + (" or N/A" if question.na else "")))
        elif answer.points > question.points:
            problems.append(AnswerProblem(
                f"{where}.points", f"question '{question.id}': {answer.points:g} points is over "
                f"the maximum of {question.points}"))
        elif answer.points < 0:
            problems.append(AnswerProblem(
                f"{where}.points", f"question '{question.id}': points cannot be negative"))
    missing = [ident for ident in card.item_ids() if ident not in by_id]
    if missing:
        problems.append(AnswerProblem("answers", "every question and critical item needs an "
                                      f"answer; missing: {', '.join(missing)}"))
    if problems:
        raise AnswerError(problems)
    if all(by_id[q.id].na for q in card.questions()):
        raise AnswerError([AnswerProblem("answers", "every question is N/A: nothing to score")])
    return by_id


def score(card: Scorecard, answers: Sequence[Answer]) -> Score:
    by_id = check_answers(card, answers)
    sections = []
    for section in card.sections:
        applicable = [q for q in section.questions if not by_id[q.id].na]
        earned = sum(q.weight * (by_id[q.id].points or 0.0) for q in applicable)
        maximum = sum(q.weight * q.points for q in applicable)
        sections.append(SectionScore(section.id, section.title, section.weight, earned, maximum,
                                     earned / maximum if applicable else None))
    failed = [c.id for c in card.critical if by_id[c.id].failed]
    counted = [s for s in sections if s.rate is not None]
    weighted = sum(s.weight * (s.rate or 0.0) for s in counted)
    total = 0.0 if failed else round(100 * weighted / sum(s.weight for s in counted), 2)
    return Score(total, sections, failed)


# --- averages -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Scored:
    key: str  # what the average groups by: an agent's 工号, a center's name
    total: float
    critical_failed: bool


@dataclass(frozen=True)
class Average:
    key: str
    evaluations: int
    average: float  # mean of the totals, two decimals
    lowest: float
    highest: float
    critical_failed: int  # evaluations zeroed by a critical item (they count in the mean)


def averages(rows: Iterable[Scored]) -> list[Average]:
    """Per key: count, mean, lowest and highest total, and how many were zeroed; by key."""
    groups: dict[str, list[Scored]] = {}
    for row in rows:
        groups.setdefault(row.key, []).append(row)
    out = []
    for key in sorted(groups):
        totals = [r.total for r in groups[key]]
        out.append(Average(key, len(totals), round(sum(totals) / len(totals), 2), min(totals),
                           max(totals), sum(1 for r in groups[key] if r.critical_failed)))
    return out


# --- calibration --------------------------------------------------------------------------


@dataclass(frozen=True)
class Evaluated:
    """One evaluator's evaluation of a call, as calibration compares it."""

    evaluator: str
    total: float
    answers: dict[str, Answer]


@dataclass(frozen=True)
class ItemComparison:
    question: str
    section: str | None  # None: a critical item
    text: str
    max_points: int | None  # None: a critical item
    values: list[str]  # per evaluator, in order: points (e.g. "4"), "n/a", "failed", "passed"
    difference: float | None  # highest − lowest points (None: fewer than two gave points)
    agree: bool  # every evaluator answered the same


@dataclass(frozen=True)
class Calibration:
    evaluators: list[str]
    totals: list[float]
    total_difference: float
    items: list[ItemComparison]

    @property
    def disagreements(self) -> list[ItemComparison]:
        return [i for i in self.items if not i.agree]


def _value(answer: Answer) -> str:
    if answer.failed is not None:
        return "failed" if answer.failed else "passed"
    if answer.na or answer.points is None:
        return "n/a"
    return f"{answer.points:g}"


def calibrate(card: Scorecard, evaluations: Sequence[Evaluated]) -> Calibration:
    """Compare two or more evaluations of one call made with this scorecard, item by item."""
    if len(evaluations) < 2:
        raise ValueError("calibration compares two or more evaluations")
    items = []
    for section in card.sections:
        for q in section.questions:
            answers = [e.answers[q.id] for e in evaluations]
            points = [a.points for a in answers if not a.na and a.points is not None]
            values = [_value(a) for a in answers]
            items.append(ItemComparison(
                q.id, section.id, q.text, q.points, values,
                round(max(points) - min(points), 2) if len(points) >= 2 else None,
                len(set(values)) == 1))
    for c in card.critical:
        values = [_value(e.answers[c.id]) for e in evaluations]
        items.append(ItemComparison(c.id, None, c.text, None, values, None, len(set(values)) == 1))
    totals = [e.total for e in evaluations]
    return Calibration([e.evaluator for e in evaluations], totals,
                       round(max(totals) - min(totals), 2), items)
