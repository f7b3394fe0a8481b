"""The routing file: queues, their skills and timers, overflow between centers, and the table
that chooses a call's center. Engineers edit `app/acd/routing.yaml`; `hotline routing check`
validates it. Every problem names the file, the line and what is wrong (like the flow files).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from app.ivr.loader import FlowError, Problem, compose_yaml
from app.ivr.loader import duplicate_keys as _duplicate_keys
from app.ivr.loader import line_of as _line_of

ROUTING_FILE = Path(__file__).resolve().parent / "routing.yaml"

SKILLS = (
    "ticket",
    "refund_change",
    "train_status",
    "lost_found",
    "complaint",
    "assistance",
    "english",
)
Skill = Literal[
    "ticket", "refund_change", "train_status", "lost_found", "complaint", "assistance", "english"
]
QueueName = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$")]
DIGITS = re.compile(r"^[0-9]+$")
# The platform's own fallback (a technical error in a flow) enqueues here, so it must exist.
REQUIRED_QUEUES = ("general",)
# Keys that moved out of the routing file, and where to set them now.
MOVED_KEYS = {
    ("wallboard", "short_abandon_seconds"):
        "the short-abandon threshold is now one setting for the wallboard and the statistics: "
        "set HOTLINE_SHORT_ABANDON_SECONDS (default 5) and remove this line",
}


class RoutingError(ValueError):
    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SkillFrom(_Model):
    """Skill chosen from what the IVR learned: menu branch names and recognised intents."""

    default: Skill
    map: dict[str, Skill] = Field(default_factory=dict)


class Overflow(_Model):
    # Seconds a call waits without a ready agent of its skill in its own center before the
    # allowed other centers (and, when configured, experts) may take it.
    after: float = Field(30.0, ge=0, le=3600)
    to: list[str] | Literal["any"] = "any"
    experts: bool = False


class QueueRule(_Model):
    skill: Skill | None = None
    skill_from: SkillFrom | None = None
    priority: bool = False
    experts_only: bool = False  # only agents flagged expert take calls of this queue
    ring_timeout: float = Field(15.0, gt=0, le=120)
    wrap_up: float = Field(15.0, ge=0, le=600)
    max_wait: float = Field(180.0, gt=0, le=7200)
    announce_every: float = Field(30.0, ge=5, le=600)
    # Service level counts calls answered within this many seconds (docs/statistics.md).
    service_level_seconds: float = Field(20.0, gt=0, le=3600)
    overflow: Overflow = Field(default_factory=Overflow)
    # Days this queue's recordings are kept (`hotline recordings purge`); None: the platform's
    # HOTLINE_RECORDING_RETENTION_DAYS. Strict: `yes` or "30" is a mistake, not a number.
    retention_days: float | None = Field(None, gt=0, strict=True, allow_inf_nan=False)

    @model_validator(mode="after")
    def one_skill_source(self) -> QueueRule:
        if (self.skill is None) == (self.skill_from is None):
            raise ValueError("a queue needs exactly one of skill or skill_from")
        return self

    def skill_for(self, hints: Sequence[str] = ()) -> str:
        """The call's skill: the fixed skill, else the last hint (branch or intent) the map
        knows, else the default. Hints are in the order the caller went through them."""
        if self.skill is not None:
            return self.skill
        assert self.skill_from is not None
        for hint in reversed(hints):
            if hint in self.skill_from.map:
                return self.skill_from.map[hint]
        return self.skill_from.default


class Centers(_Model):
    names: list[str] = Field(min_length=1)
    default: str
    by_called: dict[str, str] = Field(default_factory=dict)
    by_caller_prefix: dict[str, str] = Field(default_factory=dict)


class Threshold(_Model):
    """Where a wallboard figure turns amber (warn) and red (alert). For waiting callers and
    the longest wait a higher value is worse; for rates (0..1) a lower one."""

    warn: float = Field(ge=0)
    alert: float = Field(ge=0)


class WallThresholds(_Model):
    waiting: Threshold = Threshold(warn=5, alert=10)  # callers waiting
    longest_wait: Threshold = Threshold(warn=30, alert=60)  # seconds
    service_level: Threshold = Threshold(warn=0.8, alert=0.6)  # share, lower is worse
    answer_rate: Threshold = Threshold(warn=0.9, alert=0.8)  # 人工接通率, lower is worse

    @model_validator(mode="after")
    def ordered(self) -> WallThresholds:
        for name in ("waiting", "longest_wait"):
            t = getattr(self, name)
            if t.alert < t.warn:
                raise ValueError(f"{name}: alert must be at least warn (higher is worse)")
        for name in ("service_level", "answer_rate"):
            t = getattr(self, name)
            if t.alert > t.warn or t.warn > 1:
                raise ValueError(f"{name}: shares from 0 to 1, alert at most warn "
                                 "(lower is worse)")
        return self


class Wallboard(_Model):
    # The short-abandon threshold is not here: HOTLINE_SHORT_ABANDON_SECONDS, one setting for
    # the wallboard and the statistics (MOVED_KEYS).
    thresholds: WallThresholds = Field(default_factory=WallThresholds)


class RoutingRules(_Model):
    queues: dict[QueueName, QueueRule]
    centers: Centers
    wallboard: Wallboard = Field(default_factory=Wallboard)
    source: str = "<routing>"

    def queue(self, name: str) -> QueueRule:
        try:
            return self.queues[name]
        except KeyError:
            raise KeyError(
                f"queue '{name}' is not in the routing file {self.source} "
                f"(known: {', '.join(sorted(self.queues))})"
            ) from None

    def skill_for(self, queue: str, hints: Sequence[str] = ()) -> str:
        return self.queue(queue).skill_for(hints)

    def center_for(self, called: str | None, caller: str | None) -> str:
        """Called number first (exact), then the caller's longest matching prefix, then the
        default center."""
        called_digits = normalize_number(called)
        if called_digits in self.centers.by_called:
            return self.centers.by_called[called_digits]
        caller_digits = normalize_number(caller)
        best = ""
        for prefix in self.centers.by_caller_prefix:
            if caller_digits.startswith(prefix) and len(prefix) > len(best):
                best = prefix
        if best:
            return self.centers.by_caller_prefix[best]
        return self.centers.default

    def overflow_centers(self, queue: str, origin: str) -> list[str]:
        """Other centers that may take this queue's calls from `origin` after overflow.after."""
        to = self.queue(queue).overflow.to
        names = self.centers.names if to == "any" else to
        return [c for c in names if c != origin]


def normalize_number(number: str | None) -> str:
    """Digits only, without the country code; a mobile number dialled with a trunk 0 loses it
    (013912345678 → 13912345678) so mobile prefixes match however the network presents it."""
    if not number:
        return ""
    digits = "".join(ch for ch in number if ch.isdigit())
    if number.strip().startswith("+86"):
        digits = digits[2:]
    elif digits.startswith("0086"):
        digits = digits[4:]
    if digits.startswith("01") and len(digits) == 12:
        digits = digits[1:]
    return digits


# --- loading ------------------------------------------------------------------------------


def _plain(node: yaml.Node) -> Any:
    return yaml.safe_load(yaml.serialize(node))


def parse_routing(
    text: str, name: str = "<routing>", known_hints: set[str] | None = None
) -> RoutingRules:
    """Validate a routing file. `known_hints`: the menu branch and intent names skill_from
    maps may use (None: not checked)."""
    problems: list[Problem] = []

    def problem(line: int, message: str) -> None:
        problems.append(Problem(name, line, message))

    try:
        root = compose_yaml(text, name)
    except FlowError as exc:
        raise RoutingError(exc.problems) from exc
    if not isinstance(root, yaml.MappingNode):
        raise RoutingError(
            [Problem(name, 1, "a routing file is a mapping with queues and centers")]
        )
    _duplicate_keys(root, problem)
    data = _plain(root)
    if isinstance(data, dict):
        data.pop("source", None)  # not a file key; set below
        for (section, key), where_now in MOVED_KEYS.items():
            part = data.get(section)
            if isinstance(part, dict) and key in part:
                problem(_line_of(root, [section, key]), f"{section}.{key}: {where_now}")
                del part[key]  # reported once, not again as an unknown key
        # The numbers are digit strings even when the YAML author forgot the quotes.
        centers = data.get("centers")
        if isinstance(centers, dict):
            for table in ("by_called", "by_caller_prefix"):
                if isinstance(centers.get(table), dict):
                    centers[table] = {str(k): v for k, v in centers[table].items()}
    try:
        rules = RoutingRules.model_validate({**data, "source": name})
    except ValidationError as exc:
        for err in exc.errors():
            loc = [p for p in err["loc"] if not (isinstance(p, str) and "[" in p)]
            where = ".".join(str(p) for p in loc)
            message = f"{where}: {err['msg']}" if where else err["msg"]
            if err["type"] == "literal_error" and "skill" in where:
                message += f" (known skills: {', '.join(SKILLS)})"
            if loc[:1] == ["queues"] and loc[-1:] == ["retention_days"] and len(loc) == 3:
                message = (f"queue {loc[1]}: retention_days must be a number of days above 0 "
                           f"(got {err['input']!r})")
            problem(_line_of(root, loc), message)
        raise RoutingError(problems) from exc
    _check_references(rules, root, problem, known_hints)
    if problems:
        # An anchored block shared by two queues reports the same line once.
        raise RoutingError(sorted(set(problems), key=lambda p: (p.line, p.message)))
    return rules


def _check_references(
    rules: RoutingRules, root: yaml.Node, problem: Any, known_hints: set[str] | None
) -> None:
    centers = rules.centers
    known = set(centers.names)
    known_text = ", ".join(centers.names)
    if len(known) != len(centers.names):
        problem(_line_of(root, ["centers", "names"]), "center names must be unique")
    for queue in REQUIRED_QUEUES:
        if queue not in rules.queues:
            problem(_line_of(root, ["queues"]), f"queue '{queue}' is required (the IVR's fallback)")
    if centers.default not in known:
        problem(_line_of(root, ["centers", "default"]),
                f"default center '{centers.default}' is not a center (known: {known_text})")
    for table in ("by_called", "by_caller_prefix"):
        for number, center in getattr(centers, table).items():
            line = _line_of(root, ["centers", table, number])
            if not DIGITS.match(number):
                problem(line, f"'{number}' is not a number (digits only)")
            if center not in known:
                problem(line, f"'{center}' is not a center (known: {known_text})")
    for qname, rule in rules.queues.items():
        if known_hints is not None and rule.skill_from is not None:
            for hint in rule.skill_from.map:
                if hint not in known_hints:
                    problem(_line_of(root, ["queues", qname, "skill_from", "map", hint]),
                            f"queue {qname}: '{hint}' is neither a menu branch of the flows "
                            "nor a recognised intent")
        to = rule.overflow.to
        if to != "any":
            for i, center in enumerate(to):
                if center not in known:
                    problem(_line_of(root, ["queues", qname, "overflow", "to", i]),
                            f"queue {qname}: overflow to unknown center '{center}' "
                            f"(known: {known_text})")


def load_routing(path: Path = ROUTING_FILE, known_hints: set[str] | None = None) -> RoutingRules:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise RoutingError([Problem(str(path), 0, f"cannot read: {exc.strerror}")]) from exc
    return parse_routing(text, str(path), known_hints)


def unknown_queues(rules: RoutingRules, names: Iterable[str]) -> list[str]:
    """The names among `names` that the routing file does not define."""
    return [n for n in names if n not in rules.queues]
