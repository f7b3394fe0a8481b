"""The prompt catalog (sounds/prompts.yaml), validated on load."""

from __future__ import annotations

import re
import string
from functools import lru_cache
from pathlib import Path

import yaml
from pydantic import BaseModel, ValidationError, field_validator

from app.config import REPO_ROOT

CATALOG = REPO_ROOT / "sounds" / "prompts.yaml"
LANGS = ("zh", "en")
PROMPT_ID = re.compile(r"^[a-z][a-z0-9_]*$")


class CatalogError(ValueError):
    pass


class Prompt(BaseModel):
    zh: str
    en: str

    @field_validator("zh", "en")
    @classmethod
    def not_blank(cls, text: str) -> str:
        if not text.strip():
            raise ValueError("empty text")
        return text.strip()


def slots(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


class Catalog(BaseModel):
    prompts: dict[str, Prompt]

    def text(self, prompt_id: str, lang: str) -> str:
        try:
            prompt = self.prompts[prompt_id]
        except KeyError:
            raise CatalogError(f"no prompt '{prompt_id}' in the catalog") from None
        return prompt.en if lang == "en" else prompt.zh


def parse_catalog(text: str, source: str = "prompts.yaml") -> Catalog:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise CatalogError(f"{source}: not valid YAML: {exc}") from exc
    if not isinstance(data, dict) or not data:
        raise CatalogError(f"{source}: a catalog maps prompt ids to {{zh, en}} texts")
    prompts: dict[str, Prompt] = {}
    for prompt_id, texts in data.items():
        if not isinstance(prompt_id, str) or not PROMPT_ID.match(prompt_id):
            raise CatalogError(f"{source}: prompt id {prompt_id!r} must be lower_snake_case")
        try:
            prompt = Prompt.model_validate(texts)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(map(str, e['loc'])) or 'texts'}: {e['msg']}" for e in exc.errors()
            )
            raise CatalogError(f"{source}: prompt '{prompt_id}': {problems}") from exc
        if slots(prompt.zh) != slots(prompt.en):
            raise CatalogError(
                f"{source}: prompt '{prompt_id}': slots differ between zh "
                f"{sorted(slots(prompt.zh))} and en {sorted(slots(prompt.en))}"
            )
        prompts[prompt_id] = prompt
    return Catalog(prompts=prompts)


@lru_cache(maxsize=4)
def load_catalog(path: Path = CATALOG) -> Catalog:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise CatalogError(f"cannot read {path}: {exc.strerror}") from exc
    return parse_catalog(text, str(path))
