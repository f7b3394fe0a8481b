"""The configurable list of keywords spotted in every call, and finding them in decoded words.

A keyword has a name (what QA searches for) and one or more spoken forms. Each spoken form is
split into words of the model's vocabulary; a hit is those words decoded one after another.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from app.asr.vocab import Vocabulary

DEFAULT_KEYWORDS_FILE = Path(__file__).resolve().parent / "keywords.yaml"


class KeywordError(ValueError):
    """The keyword list cannot be used; the message names the file and the entry."""


class Keyword(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1)
    say: tuple[str, ...] = ()

    @field_validator("say")
    @classmethod
    def _no_blank(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if any(not "".join(s.split()) for s in value):
            raise ValueError("a spoken form is empty")
        return value

    @property
    def spoken(self) -> tuple[str, ...]:
        return self.say or (self.name,)


class KeywordList(BaseModel):
    model_config = ConfigDict(extra="forbid")

    keywords: list[Keyword | str] = Field(min_length=1)

    def items(self) -> list[Keyword]:
        return [Keyword(name=k) if isinstance(k, str) else k for k in self.keywords]


def parse_keywords(text: str, name: str = "<keywords>") -> list[Keyword]:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f":{mark.line + 1}" if mark else ""
        raise KeywordError(f"{name}{line}: not valid YAML: {getattr(exc, 'problem', exc)}"
                           ) from exc
    try:
        items = KeywordList.model_validate(data).items()
    except ValidationError as exc:
        where = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}"
                          for e in exc.errors())
        raise KeywordError(f"{name}: expected `keywords:` with a list of phrases or "
                           f"{{name, say: [...]}} entries ({where})") from exc
    names = [k.name for k in items]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise KeywordError(f"{name}: keyword listed twice: {', '.join(repeated)}")
    return items


def load_keywords(path: Path = DEFAULT_KEYWORDS_FILE) -> list[Keyword]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise KeywordError(f"{path}: cannot read the keyword list: {exc.strerror or exc}"
                           ) from exc
    return parse_keywords(text, str(path))


@dataclass(frozen=True)
class Phrase:
    keyword: str
    spoken: str
    words: tuple[str, ...]


def phrases_for(keywords: Sequence[Keyword], vocab: Vocabulary) -> list[Phrase]:
    """Every spoken form as model words; refuses forms the model cannot decode at all, since a
    keyword that can never be found would silently look like "never said"."""
    found: list[Phrase] = []
    unknown: list[str] = []
    for keyword in keywords:
        for spoken in keyword.spoken:
            words = vocab.segment(spoken)
            if words is None:
                unknown.append(f"{spoken!r} ({keyword.name})" if spoken != keyword.name
                               else repr(spoken))
            else:
                found.append(Phrase(keyword.name, spoken, tuple(words)))
    if unknown:
        raise KeywordError(f"keywords with words the speech model does not know: "
                           f"{', '.join(unknown)}; write them in Chinese characters (digits as "
                           "幺二三…) or leave them out")
    return found


@dataclass(frozen=True)
class TimedWord:
    word: str
    start: float
    end: float
    confidence: float


@dataclass(frozen=True)
class Match:
    phrase: Phrase
    first: int  # index of the phrase's first word in the decoded words
    last: int


def find_phrases(words: Sequence[TimedWord], phrases: Sequence[Phrase]) -> list[Match]:
    """Phrases whose words were decoded consecutively; longest phrase first where they
    overlap, so 幺二三零六 is one hit and not also a hit of a shorter phrase inside it."""
    tokens = [w.word for w in words]
    ordered = sorted(phrases, key=lambda p: -len(p.words))
    taken = [False] * len(tokens)
    found: list[Match] = []
    for phrase in ordered:
        size = len(phrase.words)
        for i in range(len(tokens) - size + 1):
            if tuple(tokens[i:i + size]) == phrase.words and not any(taken[i:i + size]):
                taken[i:i + size] = [True] * size
                found.append(Match(phrase, i, i + size - 1))
    return sorted(found, key=lambda m: m.first)
