"""The flows a call may run, by name (`flow:` in each file of the flows folder).

The dialplan's route service names the menu variant of the called number (HOTLINE_FLOW); a
call takes its flow once, at its start, so replacing the library (a reload) changes only the
calls that start afterwards.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from app.ivr.loader import FlowError, Problem, load_flow
from app.ivr.model import Flow

log = logging.getLogger(__name__)

DEFAULT = "hotline"


def load_flows(folder: Path, known_prompts: set[str] | None = None,
               known_actions: set[str] | None = None) -> dict[str, Flow]:
    """Every flow of the folder, checked; all problems of all files in one FlowError."""
    flows: dict[str, Flow] = {}
    problems: list[Problem] = []
    for path in sorted(folder.glob("*.yaml")):
        try:
            flow = load_flow(path, known_prompts, known_actions)
        except FlowError as exc:
            problems.extend(exc.problems)
            continue
        if flow.name in flows:
            problems.append(Problem(str(path), 1, f"flow name {flow.name!r} is taken by "
                                                  f"{flows[flow.name].source}"))
            continue
        flows[flow.name] = flow
    if DEFAULT not in flows and not problems:
        problems.append(Problem(str(folder), 0, f"no flow named {DEFAULT!r} (the default)"))
    if problems:
        raise FlowError(problems)
    return flows


class FlowLibrary:
    def __init__(self, flows: dict[str, Flow], default: str = DEFAULT,
                 loader: Callable[[], dict[str, Flow]] | None = None) -> None:
        self.flows = flows
        self.default = default
        self.loader = loader

    def get(self, name: str) -> Flow:
        """The named flow; an unknown name (a route to a removed flow) gets the default."""
        flow = self.flows.get(name)
        if flow is None:
            if name:
                log.warning("no flow %r: the call runs %r", name, self.default)
            flow = self.flows[self.default]
        return flow

    def reload(self) -> list[str]:
        """Load every flow again and swap them in at once; a FlowError leaves the old ones."""
        if self.loader is None:
            raise RuntimeError("this flow library cannot reload")
        self.flows = self.loader()
        return sorted(self.flows)


def flow_names(folder: Path) -> set[str]:
    """The names the flow files of the folder declare (`flow:`), unchecked otherwise."""
    import yaml

    names = set()
    for path in folder.glob("*.yaml"):
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError):
            continue
        if isinstance(data, dict) and isinstance(data.get("flow"), str):
            names.add(data["flow"])
    return names
