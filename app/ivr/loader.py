"""Load and check flow files: every problem names the file, the line and what is wrong."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from app.ivr.model import SIMPLE_STEPS, STEP_TYPES, Flow, SayStep, Step

FLOWS_DIR = Path(__file__).resolve().parent / "flows"


@dataclass(frozen=True)
class Problem:
    file: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.message}"


class FlowError(ValueError):
    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


def _plain(node: yaml.Node) -> Any:
    return yaml.safe_load(yaml.serialize(node))


def _pydantic_message(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err["loc"])
        parts.append(f"{where}: {err['msg']}" if where else err["msg"])
    return "; ".join(parts)


def compose_yaml(text: str, name: str) -> yaml.Node | None:
    """The YAML node tree of an engineers' file (flows, routing), line numbers kept; a syntax
    error is a FlowError naming FILE:LINE."""
    try:
        return yaml.compose(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise FlowError([Problem(name, (mark.line + 1) if mark else 1,
                                 f"not valid YAML: {getattr(exc, 'problem', exc)}")]) from exc


def node_line(node: yaml.Node) -> int:
    return int(node.start_mark.line) + 1


def _child(node: yaml.Node, key: str | int) -> tuple[yaml.Node | None, yaml.Node | None]:
    """(key node, value node) of a mapping entry or a sequence item."""
    if isinstance(node, yaml.MappingNode):
        for k, v in node.value:
            if str(k.value) == str(key):
                return k, v
    elif isinstance(node, yaml.SequenceNode) and isinstance(key, int):
        if 0 <= key < len(node.value):
            return None, node.value[key]
    return None, None


def line_of(root: yaml.Node, path: Sequence[str | int]) -> int:
    """The line of the deepest node on `path` that exists (a missing key: its parent)."""
    node, line = root, node_line(root)
    for part in path:
        key_node, value = _child(node, part)
        if value is None:
            break
        node = value
        line = node_line(key_node if key_node is not None else value)
    return line


def duplicate_keys(node: yaml.Node, problem: Callable[[int, str], None]) -> None:
    """Report every key defined twice: YAML silently keeps the last of two equal keys, and an
    engineers' file (routing table, scorecard) must not."""
    if isinstance(node, yaml.MappingNode):
        seen: dict[str, int] = {}
        for k, v in node.value:
            key = str(k.value)
            if key in seen:
                problem(node_line(k), f"'{key}' is defined twice (first on line {seen[key]})")
            else:
                seen[key] = node_line(k)
            duplicate_keys(v, problem)
    elif isinstance(node, yaml.SequenceNode):
        for item in node.value:
            duplicate_keys(item, problem)


def parse_flow(
    text: str,
    name: str = "<flow>",
    known_prompts: set[str] | None = None,
    known_actions: set[str] | None = None,
) -> Flow:
    problems: list[Problem] = []

    def problem(line: int, message: str) -> None:
        problems.append(Problem(name, line, message))

    root = compose_yaml(text, name)
    if not isinstance(root, yaml.MappingNode):
        raise FlowError([Problem(name, 1, "a flow file is a mapping with flow, start and nodes")])
    top = {k.value: v for k, v in root.value}
    for key in ("flow", "start", "nodes"):
        if key not in top:
            problem(1, f"missing top-level key '{key}'")
    unknown = set(top) - {"flow", "start", "nodes", "languages"}
    for key in sorted(unknown):
        problem(1, f"unknown top-level key '{key}'")
    nodes: dict[str, list[Step]] = {}
    node_lines: dict[str, int] = {}
    nodes_node = top.get("nodes")
    if nodes_node is not None and not isinstance(nodes_node, yaml.MappingNode):
        problem(nodes_node.start_mark.line + 1, "'nodes' must map node names to step lists")
    elif nodes_node is not None:
        for key_node, steps_node in nodes_node.value:
            node_name = key_node.value
            node_lines[node_name] = key_node.start_mark.line + 1
            if not isinstance(steps_node, yaml.SequenceNode):
                problem(key_node.start_mark.line + 1, f"node '{node_name}' must be a list of steps")
                continue
            steps = []
            for step_node in steps_node.value:
                step = _parse_step(step_node, problem)
                if step is not None:
                    steps.append(step)
            nodes[node_name] = steps
    if problems:
        raise FlowError(problems)
    try:
        flow = Flow(
            name=str(_plain(top["flow"])),
            start=str(_plain(top["start"])),
            nodes=nodes,
            languages=_plain(top["languages"]) if "languages" in top else ["zh", "en"],
            source=name,
            node_lines=node_lines,
        )
    except ValidationError as exc:
        raise FlowError([Problem(name, 1, _pydantic_message(exc))]) from exc
    _check_references(flow, problem, known_prompts, known_actions)
    if problems:
        raise FlowError(problems)
    return flow


def _parse_step(node: yaml.Node, problem: Any) -> Step | None:
    line = node.start_mark.line + 1
    if not isinstance(node, yaml.MappingNode) or len(node.value) != 1:
        problem(
            line,
            "a step is a mapping with exactly one key, its type "
            f"({', '.join(sorted({*STEP_TYPES, *SIMPLE_STEPS}))})",
        )
        return None
    key_node, value_node = node.value[0]
    kind, value = key_node.value, _plain(value_node)
    if kind in SIMPLE_STEPS:
        if kind == "set" and not isinstance(value, dict):
            problem(line, "set takes a mapping of variables to values")
            return None
        if kind in ("goto",) and not isinstance(value, str):
            problem(line, "goto takes a node name")
            return None
        return Step(kind=kind, args=value if value is not None else "", line=line)
    model = STEP_TYPES.get(kind)
    if model is None:
        problem(line, f"unknown step type '{kind}'")
        return None
    if kind == "say" and isinstance(value, str):
        value = {"prompt": value}
    if kind == "play" and isinstance(value, str):
        value = {"media": value}
    try:
        return Step(kind=kind, args=model.model_validate(value), line=line)
    except ValidationError as exc:
        problem(line, f"{kind}: {_pydantic_message(exc)}")
        return None


def _check_references(
    flow: Flow, problem: Any, known_prompts: set[str] | None, known_actions: set[str] | None
) -> None:
    if flow.start not in flow.nodes:
        problem(1, f"start node '{flow.start}' is not defined")
    for node_name, steps in flow.nodes.items():
        for step in steps:
            for target in step.targets():
                if target not in flow.nodes:
                    problem(step.line, f"goes to undefined node '{target}'")
            if known_prompts is not None:
                for prompt in _prompts_of(step):
                    if prompt not in known_prompts:
                        problem(step.line, f"unknown prompt '{prompt}' (not in the catalog)")
            if (
                known_actions is not None
                and step.kind == "lookup"
                and step.args.action not in known_actions
            ):
                problem(
                    step.line,
                    f"unknown action '{step.args.action}' "
                    f"(known: {', '.join(sorted(known_actions))})",
                )
        if not steps:
            problem(flow.node_lines.get(node_name, 1), f"node '{node_name}' has no steps")


def _prompts_of(step: Step) -> list[str]:
    a = step.args
    if isinstance(a, SayStep):
        return [a.prompt] if a.prompt else []
    prompts = []
    for attr in ("prompt", "invalid_prompt", "no_input_prompt", "hold_prompt",
                 "confirm_prompt", "not_heard_prompt"):
        value = getattr(a, attr, None)
        if isinstance(value, str):
            prompts.append(value)
    return prompts


def load_flow(
    path: Path, known_prompts: set[str] | None = None, known_actions: set[str] | None = None
) -> Flow:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise FlowError([Problem(str(path), 0, f"cannot read: {exc.strerror}")]) from exc
    return parse_flow(text, str(path), known_prompts, known_actions)
