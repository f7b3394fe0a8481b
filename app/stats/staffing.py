"""How many agents a queue needs (Erlang C, app.acd.erlang) for a service-level target and an
occupancy cap: `hotline staffing` and the reports page."""

from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass
from typing import Any

from app.acd import erlang

MAX_TRAFFIC = 5000.0  # Erlangs: far beyond one center (15,909 calls a day is about 60)
MIN_OCCUPANCY = 0.1
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
    if not MIN_OCCUPANCY <= max_occupancy <= 1:
        raise StaffingError(f"max occupancy is a share from {MIN_OCCUPANCY} to 1, e.g. 0.85")
    goal, seconds = target
    load = erlang.traffic(calls_per_hour, aht, 3600)
    if load > MAX_TRAFFIC:
        raise StaffingError(f"{load:g} Erlangs is more traffic than this helper sizes "
                            f"(at most {MAX_TRAFFIC:g}): split it by queue or center")
    agents = erlang.agents_needed(load, aht, seconds, goal) if load > 0 else 1
    agents = max(agents, math.ceil(load / max_occupancy - 1e-9))
    return Staffing(
        agents=agents,
        service_level=round(erlang.service_level(agents, load, aht, seconds), 4),
        asa_s=round(erlang.asa(agents, load, aht), 2),
        occupancy=round(load / agents, 4),
        traffic_erlangs=round(load, 4),
    )
