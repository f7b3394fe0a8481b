"""How many agents a queue needs (Erlang C, app.acd.erlang) for a service-level target and an
occupancy cap: `hotline staffing` and the reports page."""

from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass
from typing import Any

from app.acd import erlang

TARGET = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*/\s*(\d+(?:\.\d+)?)\s*$")


class StaffingError(ValueError):
    pass


def parse_target(text: str) -> tuple[float, float]:
    """`80/20` → (0.8, 20.0): 80 % of calls answered within 20 seconds."""
    match = TARGET.match(text)
    if not match:
        raise StaffingError(f"target '{text}' is not PERCENT/SECONDS, e.g. 80/20")
    share, seconds = float(match[1]) / 100, float(match[2])
    if not 0 < share < 1:
        raise StaffingError(f"target '{text}': the percentage must be above 0 and below 100")
    if seconds <= 0:
        raise StaffingError(f"target '{text}': the seconds must be more than 0")
    return share, seconds


@dataclass(frozen=True)
class Staffing:
    agents: int
    service_level: float
    asa_s: float
    occupancy: float
    traffic_erlangs: float

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def staffing(calls_per_hour: float, aht: float, target: tuple[float, float],
             max_occupancy: float = 0.85) -> Staffing:
    """The fewest agents that reach the service-level target and keep occupancy (traffic ÷
    agents) at or under the cap."""
    if calls_per_hour < 0:
        raise StaffingError("calls per hour must be 0 or more")
    if aht <= 0:
        raise StaffingError("AHT must be more than 0 seconds")
    if not 0 < max_occupancy <= 1:
        raise StaffingError("max occupancy is a share above 0 and at most 1, e.g. 0.85")
    goal, seconds = target
    load = erlang.traffic(calls_per_hour, aht, 3600)
    agents = erlang.agents_needed(load, aht, seconds, goal) if load > 0 else 1
    agents = max(agents, math.ceil(load / max_occupancy - 1e-9))
    return Staffing(
        agents=agents,
        service_level=round(erlang.service_level(agents, load, aht, seconds), 4),
        asa_s=round(erlang.asa(agents, load, aht), 2),
        occupancy=round(load / agents, 4),
        traffic_erlangs=round(load, 4),
    )
