"""Scorecard files: the shipped one, FILE:LINE problems, and `hotline qa check`."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.cli import main
from app.qa.scorecard import (
    SCORECARDS_DIR,
    ScorecardError,
    ScorecardLibrary,
    UnknownScorecard,
    load_scorecard,
    parse_scorecard,
)

GOOD = """\
name: t
version: 2
title: 测试评分表
sections:
  - id: a
    title: 甲
    questions:
      - id: q1
        text: 一
        points: 5
critical:
  - id: rude
    text: 辱骂旅客
"""


def problems_of(text: str, **kwargs: str) -> list[str]:
    with pytest.raises(ScorecardError) as info:
        parse_scorecard(text, "s.yaml", **kwargs)
    return [str(p) for p in info.value.problems]


def test_shipped_scorecard_is_valid() -> None:
    card = ScorecardLibrary().get("standard")
    assert card.name == "standard" and card.version >= 1 and len(card.sha256) == 64
    assert sum(s.weight for s in card.sections) == 100
    assert card.critical and any(q.na for q in card.questions())
    assert card.question("greeting") is not None and card.section_of("greeting") is not None


def test_defaults_and_hash() -> None:
    card = parse_scorecard(GOOD)
    q1 = card.question("q1")
    assert q1 is not None and (q1.weight, q1.na) == (1.0, False)
    assert card.sections[0].weight == 1.0 and card.item_ids() == ["q1", "rude"]
    assert parse_scorecard(GOOD + "# a comment\n").sha256 != card.sha256
    assert "sha256" not in card.definition() and "source" not in card.definition()


def test_problems_name_their_lines() -> None:
    assert problems_of(GOOD.replace("points: 5", "points: 0")) == [
        "s.yaml:10: sections.0.questions.0.points: Input should be greater than 0"]
    assert problems_of(GOOD.replace("        text: 一\n", "        text: 一\n        na: maybe\n")
                       )[0].startswith("s.yaml:10: sections.0.questions.0.na: ")
    assert problems_of(GOOD.replace("  - id: rude\n", "  - id: rude\n    points: 3\n")) == [
        "s.yaml:13: critical.0.points: Extra inputs are not permitted"]
    assert problems_of(GOOD.replace("version: 2", "version: two"))[0].startswith(
        "s.yaml:2: version: Input should be a valid integer")
    assert problems_of(GOOD.replace("id: q1", "id: Q-1"))[0].startswith(
        "s.yaml:8: sections.0.questions.0.id: String should match pattern")
    no_questions = GOOD.split("    questions:")[0] + "    questions: []\n"
    assert problems_of(no_questions)[0].startswith(
        "s.yaml:7: sections.0.questions: List should have at least 1 item")


def test_duplicates_and_syntax_errors() -> None:
    assert problems_of(GOOD.replace("        points: 5\n", "        points: 5\n        points: 4\n")
                       ) == ["s.yaml:11: 'points' is defined twice (first on line 10)"]
    assert problems_of(GOOD.replace("id: rude", "id: q1")) == [
        "s.yaml:1: Value error, id 'q1' is used twice; section, question and critical item "
        "ids must be unique in a scorecard"]
    assert problems_of(GOOD.replace("title: 甲", "title: [甲")) == [
        "s.yaml:7: not valid YAML: expected ',' or ']', but got ':'"]
    assert problems_of("- a\n- b\n") == [
        "s.yaml:1: a scorecard is a mapping with name, version, title, sections and critical"]
    assert problems_of(GOOD, file_stem="standard") == [
        "s.yaml:1: name 't' must be the file's name 'standard' (NAME.yaml)"]


def test_library_names_and_unknown(tmp_path: Path) -> None:
    (tmp_path / "t.yaml").write_text(GOOD, encoding="utf-8")
    library = ScorecardLibrary(tmp_path)
    assert library.names() == ["t"] and library.get("t").version == 2
    with pytest.raises(UnknownScorecard, match=r"no scorecard 'x' .*\(known: t\)"):
        library.get("x")


def test_check_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["qa", "check", str(SCORECARDS_DIR / "standard.yaml")]) == 0
    out = capsys.readouterr().out
    assert "standard.yaml: ok: standard v1" in out and "4 critical items" in out
    bad = tmp_path / "t.yaml"
    bad.write_text(GOOD.replace("points: 5", "points: 500"), encoding="utf-8")
    assert main(["qa", "check", str(bad)]) == 1
    err = capsys.readouterr().err
    assert f"{bad}:10: sections.0.questions.0.points: Input should be less than or equal to " \
           "100" in err
    assert main(["qa", "check", str(tmp_path / "missing.yaml")]) == 1
    assert "missing.yaml:0: cannot read" in capsys.readouterr().err
    assert load_scorecard(SCORECARDS_DIR / "standard.yaml").name == "standard"
