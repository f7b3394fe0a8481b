"""Scorecards 质检评分表: YAML files QA staff edit (`app/qa/scorecards/*.yaml`), checked with
`hotline qa check`. Every problem names the file, the line and what is wrong.

A scorecard has sections of questions (each worth `points`, with an optional `weight`; `na:
true` lets the evaluator mark it not applicable) and critical items 否决项: one failed critical
item zeroes the whole evaluation.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from app.ivr.loader import FlowError, Problem, compose_yaml, duplicate_keys, line_of

SCORECARDS_DIR = Path(__file__).resolve().parent / "scorecards"
Ident = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$", max_length=40)]


class ScorecardError(ValueError):
    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Question(_Model):
    id: Ident
    text: str = Field(min_length=1)
    points: int = Field(gt=0, le=100, description="the most points an answer may give")
    weight: float = Field(1.0, gt=0, le=100)
    na: bool = False  # the evaluator may mark it N/A (not applicable to this call)


class Section(_Model):
    id: Ident
    title: str = Field(min_length=1)
    weight: float = Field(1.0, gt=0, le=100)
    questions: list[Question] = Field(min_length=1)


class CriticalItem(_Model):
    """A 否决项: answered failed or not; failed zeroes the evaluation."""

    id: Ident
    text: str = Field(min_length=1)


class Scorecard(_Model):
    name: Ident
    version: int = Field(ge=1)
    title: str = Field(min_length=1)
    description: str | None = None
    sections: list[Section] = Field(min_length=1)
    critical: list[CriticalItem] = Field(default_factory=list)
    # Not file keys: where it came from and the sha256 of its text (set by the loader).
    source: str = "<scorecard>"
    sha256: str = ""

    @model_validator(mode="after")
    def unique_ids(self) -> Scorecard:
        seen: set[str] = set()
        for ident in [s.id for s in self.sections] + [q.id for q in self.questions()] + [
                c.id for c in self.critical]:
            if ident in seen:
                raise ValueError(f"id '{ident}' is used twice; section, question and critical "
                                 "item ids must be unique in a scorecard")
            seen.add(ident)
        return self

    def questions(self) -> list[Question]:
        return [q for s in self.sections for q in s.questions]

    def question(self, ident: str) -> Question | None:
        return next((q for q in self.questions() if q.id == ident), None)

    def section_of(self, ident: str) -> Section | None:
        return next((s for s in self.sections if any(q.id == ident for q in s.questions)), None)

    def critical_item(self, ident: str) -> CriticalItem | None:
        return next((c for c in self.critical if c.id == ident), None)

    def item_ids(self) -> list[str]:
        """Every id an evaluation answers: the questions, then the critical items."""
        return [q.id for q in self.questions()] + [c.id for c in self.critical]

    def definition(self) -> dict[str, Any]:
        """The scorecard as stored with its evaluations (without where it was loaded from)."""
        return self.model_dump(exclude={"source", "sha256"})


def _problem_lines(exc: ValidationError, root: yaml.Node, name: str) -> list[Problem]:
    problems = []
    for err in exc.errors():
        loc = list(err["loc"])
        where = ".".join(str(p) for p in loc)
        message = f"{where}: {err['msg']}" if where else err["msg"]
        problems.append(Problem(name, line_of(root, loc), message))
    return problems


def parse_scorecard(text: str, name: str = "<scorecard>", file_stem: str | None = None
                    ) -> Scorecard:
    """Validate a scorecard's text. `file_stem`: the name its file gives it, which the
    scorecard's `name` must repeat (evaluations find it by that name)."""
    problems: list[Problem] = []

    def problem(line: int, message: str) -> None:
        problems.append(Problem(name, line, message))

    try:
        root = compose_yaml(text, name)
    except FlowError as exc:
        raise ScorecardError(exc.problems) from exc
    if not isinstance(root, yaml.MappingNode):
        raise ScorecardError([Problem(name, 1, "a scorecard is a mapping with name, version, "
                                               "title, sections and critical")])
    duplicate_keys(root, problem)
    if problems:
        raise ScorecardError(problems)
    data = yaml.safe_load(yaml.serialize(root))
    for key in ("source", "sha256"):
        if key in data:
            problem(line_of(root, [key]), f"{key}: Extra inputs are not permitted")
    if problems:
        raise ScorecardError(problems)
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
    try:
        card = Scorecard.model_validate({**data, "source": name, "sha256": digest})
    except ValidationError as exc:
        raise ScorecardError(_problem_lines(exc, root, name)) from exc
    if file_stem is not None and card.name != file_stem:
        raise ScorecardError([Problem(name, line_of(root, ["name"]), f"name '{card.name}' must "
                                      f"be the file's name '{file_stem}' (NAME.yaml)")])
    return card


def load_scorecard(path: Path) -> Scorecard:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ScorecardError([Problem(str(path), 0, f"cannot read: {exc.strerror}")]) from exc
    return parse_scorecard(text, str(path), file_stem=path.stem)


class UnknownScorecard(LookupError):
    pass


class ScorecardLibrary:
    """The scorecards of a folder, by name (the file `NAME.yaml` holds scorecard NAME). Files
    are read when asked for, so an edited scorecard counts from its next evaluation."""

    def __init__(self, folder: Path = SCORECARDS_DIR) -> None:
        self.folder = folder

    def names(self) -> list[str]:
        return sorted(p.stem for p in self.folder.glob("*.yaml"))

    def get(self, name: str) -> Scorecard:
        """The scorecard NAME; UnknownScorecard when there is no such file, ScorecardError when
        the file is not valid."""
        if name not in self.names():
            known = ", ".join(self.names()) or "none"
            raise UnknownScorecard(f"no scorecard '{name}' in {self.folder} (known: {known})")
        return load_scorecard(self.folder / f"{name}.yaml")
