"""The prompt catalog (sounds/prompts.yaml), validated on load.

Every prompt id is lower_snake_case and has a Mandarin (zh) and an English (en) text; {name}
marks a slot filled at call time, and both texts must have the same slots. Errors name the file
and the prompt, all at once, so an engineer fixes the catalog in one pass.
"""

from __future__ import annotations

import re
import string
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError, field_validator, model_validator

from app.config import REPO_ROOT

CATALOG = REPO_ROOT / "sounds" / "prompts.yaml"
LANGS = ("zh", "en")
PROMPT_ID = re.compile(r"^[a-z][a-z0-9_]*$")


class CatalogError(ValueError):
    pass


def slots(text: str) -> set[str]:
    """The {slot} names in a prompt text."""
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def _check_slots(text: str) -> None:
    try:
        parts = list(string.Formatter().parse(text))
    except ValueError:
        raise ValueError("unbalanced { or }: write {{ or }} for a literal brace") from None
    for _, name, spec, conversion in parts:
        if name is None:
            continue
        if not name.isidentifier():
            raise ValueError(f"slot {{{name}}} must be a name such as {{number}}")
        if spec or conversion:
            raise ValueError(f"slot {{{name}}} takes no format: write just {{{name}}}")


class Prompt(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    zh: str
    en: str

    @field_validator("zh", "en")
    @classmethod
    def _text(cls, text: str) -> str:
        if not text.strip():
            raise ValueError("empty text")
        _check_slots(text)
        return text.strip()

    @model_validator(mode="after")
    def _same_slots(self) -> Prompt:
        if slots(self.zh) != slots(self.en):
            raise ValueError(
                f"slots differ: zh has {sorted(slots(self.zh))}, en has {sorted(slots(self.en))}"
            )
        return self

    @property
    def slots(self) -> set[str]:
        return slots(self.zh)


class Catalog(BaseModel):
    model_config = ConfigDict(frozen=True)

    prompts: dict[str, Prompt]

    @field_validator("prompts", mode="before")
    @classmethod
    def _ids(cls, prompts: Any) -> Any:
        if not isinstance(prompts, dict) or not prompts:
            raise ValueError("a catalog maps prompt ids to {zh: ..., en: ...}")
        bad = [repr(k) for k in prompts if not isinstance(k, str) or not PROMPT_ID.match(k)]
        if bad:
            raise ValueError(
                f"prompt id {', '.join(bad)} must be lower_snake_case (a-z, 0-9, _; "
                "starting with a letter)"
            )
        return prompts

    def prompt(self, prompt_id: str) -> Prompt:
        try:
            return self.prompts[prompt_id]
        except KeyError:
            raise CatalogError(f"no prompt '{prompt_id}' in the catalog") from None

    def text(self, prompt_id: str, lang: str) -> str:
        """The prompt's text in a language, {slots} unfilled."""
        if lang not in LANGS:
            raise CatalogError(f"unknown language {lang!r} (one of {', '.join(LANGS)})")
        prompt = self.prompt(prompt_id)
        return prompt.en if lang == "en" else prompt.zh

    def fill(self, prompt_id: str, lang: str, **values: str) -> str:
        """The prompt's text with its slots filled; every slot needs a value."""
        expected = self.prompt(prompt_id).slots
        if set(values) != expected:
            raise CatalogError(
                f"prompt '{prompt_id}' has slots {sorted(expected)}, given {sorted(values)}"
            )
        return self.text(prompt_id, lang).format(**values)


class _DuplicateKey(yaml.YAMLError):
    pass


class _UniqueKeyLoader(yaml.SafeLoader):
    """A YAML loader that rejects a prompt id given twice (PyYAML keeps the last silently)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                line = key_node.start_mark.line + 1
                raise _DuplicateKey(f"{key!r} is defined twice (again on line {line})")
            seen.add(key)
        return super().construct_mapping(node, deep)


def _describe(exc: ValidationError) -> list[str]:
    problems = []
    for error in exc.errors():
        loc = [str(part) for part in error["loc"]][1:]  # drop "prompts"
        message = error["msg"].removeprefix("Value error, ")
        if error["type"] == "extra_forbidden":
            message = f"unknown key (only {' and '.join(LANGS)})"
        elif error["type"] == "model_type":
            message = f"needs its texts: {{{', '.join(f'{lang}: ...' for lang in LANGS)}}}"
        if not loc:
            problems.append(message)
        elif len(loc) == 1:
            problems.append(f"prompt '{loc[0]}': {message}")
        else:
            problems.append(f"prompt '{loc[0]}': {'.'.join(loc[1:])}: {message}")
    return problems


def parse_catalog(text: str, source: str = "prompts.yaml") -> Catalog:
    try:
        data = yaml.load(text, Loader=_UniqueKeyLoader)
    except _DuplicateKey as exc:
        raise CatalogError(f"{source}: {exc}") from exc
    except yaml.YAMLError as exc:
        raise CatalogError(f"{source}: not valid YAML: {exc}") from exc
    try:
        return Catalog.model_validate({"prompts": data})
    except ValidationError as exc:
        raise CatalogError(f"{source}: " + "\n  ".join(_describe(exc))) from exc


@lru_cache(maxsize=4)
def load_catalog(path: Path = CATALOG) -> Catalog:
    """The validated catalog (cached per path; load_catalog.cache_clear() to re-read)."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise CatalogError(f"cannot read {path}: {exc.strerror}") from exc
    return parse_catalog(text, str(path))
