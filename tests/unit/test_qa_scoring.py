"""Scoring rules: weights, N/A out of the maximum, critical items, answer checks, averages and
calibration."""

from __future__ import annotations

import pytest

from app.qa.scorecard import parse_scorecard
from app.qa.scoring import (
    Answer,
    AnswerError,
    Evaluated,
    Scored,
    averages,
    calibrate,
    check_answers,
    score,
)

CARD = """\
name: t
version: 1
title: 测试评分表
sections:
  - id: a
    title: 甲
    weight: 3
    questions:
      - {id: q1, text: 一, points: 10, weight: 2}
      - {id: q2, text: 二, points: 5, na: true}
  - id: b
    title: 乙
    weight: 1
    questions:
      - {id: q3, text: 三, points: 4, na: true}
critical:
  - {id: rude, text: 辱骂旅客}
"""
card = parse_scorecard(CARD)


def answers(q1: float | None = 10, q2: float | None = 5, q3: float | None = 4,
            rude: bool = False) -> list[Answer]:
    def one(ident: str, points: float | None) -> Answer:
        return Answer(ident, points, na=points is None)

    return [one("q1", q1), one("q2", q2), one("q3", q3), Answer("rude", failed=rude)]


def problems(given: list[Answer]) -> list[tuple[str, str]]:
    with pytest.raises(AnswerError) as info:
        check_answers(card, given)
    return [(p.field, p.message) for p in info.value.problems]


def test_full_marks_are_100() -> None:
    result = score(card, answers())
    assert result.total == 100 and result.critical_failed == []
    assert [(s.id, s.earned, s.maximum, s.rate) for s in result.sections] == [
        ("a", 25, 25, 1.0), ("b", 4, 4, 1.0)]


def test_question_and_section_weights() -> None:
    # Section a: (2×5 + 5) ÷ (2×10 + 5) = 0.6; b: 1.0; total 100 × (3×0.6 + 1×1.0) ÷ 4.
    # Without question weights it would be 75, without section weights 80.
    assert score(card, answers(q1=5)).total == 70.0


def test_na_leaves_the_maximum() -> None:
    # q2 N/A: a = 2×5 ÷ 2×10 = 0.5 (not 10 ÷ 25 = 0.4); total 100 × (1.5 + 1) ÷ 4.
    result = score(card, answers(q1=5, q2=None))
    assert result.total == 62.5
    assert (result.sections[0].earned, result.sections[0].maximum) == (10, 20)


def test_a_section_all_na_leaves_the_total() -> None:
    result = score(card, answers(q1=5, q3=None))
    assert result.sections[1].rate is None
    assert result.total == 60.0  # section a alone (0.6), not 100 × 3×0.6 ÷ 4 = 45


def test_failed_critical_item_zeroes_the_total() -> None:
    result = score(card, answers(rude=True))
    assert result.total == 0 and result.critical_failed == ["rude"]
    assert result.sections[0].rate == 1.0  # the sections still show what was earned


def test_fractional_points_round_to_two_decimals() -> None:
    # a = (2×7.5 + 2) ÷ 25 = 0.68, b = 1 ÷ 4 = 0.25: 100 × (2.04 + 0.25) ÷ 4 = 57.25;
    assert score(card, answers(q1=7.5, q2=2, q3=1)).total == 57.25
    assert score(card, answers(q1=0, q2=0, q3=1)).total == 6.25
    assert score(card, answers(q1=1 / 3, q2=0, q3=0)).total == 2.0  # 100 × 3 × (2/75) ÷ 4


def test_every_problem_is_named_with_its_field() -> None:
    given = [Answer("q1", 11), Answer("q1", 3), Answer("q9", 1), Answer("q3", 2, na=True),
             Answer("rude", points=1)]
    assert problems(given) == [
        ("answers.0.points", "question 'q1': 11 points is over the maximum of 10"),
        ("answers.1.question", "question 'q1' is answered twice"),
        ("answers.2.question", "unknown question 'q9' in scorecard t v1 (known: q1, q2, q3, "
                               "rude)"),
        ("answers.3.points", "question 'q3': give points or N/A, not both"),
        ("answers.4.failed", "critical item 'rude' is answered with failed: true or false "
                             "only (no points, no N/A)"),
        ("answers", "every question and critical item needs an answer; missing: q2"),
    ]


def test_na_only_where_allowed_and_points_needed() -> None:
    given = [Answer("q1", na=True), Answer("q2"), Answer("q3", -1), Answer("rude", 1.0,
                                                                           failed=False)]
    assert problems(given) == [
        ("answers.0.na", "question 'q1' does not allow N/A; give 0 to 10 points"),
        ("answers.1.points", "question 'q2' needs points (0 to 5) or N/A"),
        ("answers.2.points", "question 'q3': points cannot be negative"),
        ("answers.3.failed", "critical item 'rude' is answered with failed: true or false "
                             "only (no points, no N/A)"),
    ]
    assert problems([Answer("q1", 1, failed=True), *answers()[1:]]) == [
        ("answers.0.failed", "question 'q1' takes points or N/A; failed is only for critical "
                             "items")]


def test_all_na_is_nothing_to_score() -> None:
    all_na = parse_scorecard(CARD.replace("points: 10, weight: 2}", "points: 10, na: true}"))
    with pytest.raises(AnswerError, match="every question is N/A"):
        score(all_na, answers(q1=None, q2=None, q3=None))


def test_averages_per_key_count_zeroed_evaluations() -> None:
    rows = [Scored("1002", 80, False), Scored("1001", 90, False), Scored("1002", 0, True),
            Scored("1002", 95.5, False)]
    result = averages(rows)
    assert [(a.key, a.evaluations, a.average, a.lowest, a.highest, a.critical_failed)
            for a in result] == [("1001", 1, 90, 90, 90, 0), ("1002", 3, 58.5, 0, 95.5, 1)]
    assert averages([]) == []


def test_calibration_shows_per_item_differences() -> None:
    first = answers(q1=8, q2=None, q3=4)
    second = answers(q1=5, q2=3, q3=4, rude=True)
    compared = calibrate(card, [
        Evaluated("qa1", score(card, first).total, {a.question: a for a in first}),
        Evaluated("qa2", score(card, second).total, {a.question: a for a in second}),
    ])
    assert compared.evaluators == ["qa1", "qa2"]
    # qa1: a = 2×8 ÷ 2×10 = 0.8 (q2 N/A), b = 1.0 → 100 × (3×0.8 + 1) ÷ 4 = 85; qa2: 否决项.
    assert compared.totals == [85.0, 0.0] and compared.total_difference == 85.0
    rows = {i.question: (i.section, i.values, i.difference, i.agree) for i in compared.items}
    assert rows == {
        "q1": ("a", ["8", "5"], 3.0, False),
        "q2": ("a", ["n/a", "3"], None, False),
        "q3": ("b", ["4", "4"], 0.0, True),
        "rude": (None, ["passed", "failed"], None, False),
    }
    assert [i.question for i in compared.disagreements] == ["q1", "q2", "rude"]
    with pytest.raises(ValueError, match="two or more"):
        calibrate(card, [Evaluated("qa1", 85.0, {a.question: a for a in first})])
