"""The arithmetic of bench/ivr_capacity.py, apart so it is tested without a PBX: caller
steps, the window in which every silent caller is in the menu, CPU shares, the issue's
targets and the printed table."""

from __future__ import annotations

import itertools
from typing import Any

# Issue 15's targets: printed beside the figures, never a reason to fail.
MAX_DTMF_CPU_RATIO = 2.0  # hotline / plain-dialplan CPU per DTMF-only call
MAX_SILENT_MS_PER_CALL_S = 1.5  # hotline, Asterisk + Python, while the caller is silent
MIN_CALLERS = 500  # concurrent callers in the hotline's menu with 0 failed calls

# A call is placed within about this long of its turn in SIPp's schedule and answered at
# once; its silent hold ends no earlier than this before its due time.
START_MARGIN_S = 3.0
END_MARGIN_S = 2.0
MIN_WINDOW_S = 3.0
STEP_TOGETHER_S = 8.0  # a capacity step holds all its callers in the menu at once this long


def parse_steps(text: str) -> list[int]:
    """'50,100,200' -> [50, 100, 200]: caller counts, rising, each at least 1."""
    try:
        steps = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise ValueError(
            f"steps must be whole numbers separated by commas, not {text!r}") from None
    if not steps:
        raise ValueError("give at least one step, e.g. 50,100,200")
    if any(n < 1 for n in steps):
        raise ValueError(f"each step is at least 1 caller: {text!r}")
    if any(b <= a for a, b in itertools.pairwise(steps)):
        raise ValueError(f"steps must rise: {text!r}")
    return steps


def all_in_window(callers: int, rate: float, settle: float, hold: float) -> tuple[float, float]:
    """Seconds after the caller process starts between which every one of `callers` placed at
    `rate` a second, each hanging up `settle` + `hold` s after its answer, is in the call:
    from the last one's arrival to the first one's hang-up, less the margins. ValueError when
    that leaves under MIN_WINDOW_S."""
    start = (callers - 1) / rate + START_MARGIN_S
    end = settle + hold - END_MARGIN_S
    if end - start < MIN_WINDOW_S:
        raise ValueError(
            f"{callers} callers at {rate:g}/s are not all in the call for {MIN_WINDOW_S:g} s "
            f"with a {hold:g} s hold: hold longer, place them faster or place fewer")
    return start, end


def step_rate(callers: int, rate: float, settle: float, hold: float,
              together: float = STEP_TOGETHER_S) -> float:
    """The slowest rate, `rate` or faster, at which `callers` each hanging up `settle` + `hold`
    s after the answer are all in the call at once for `together` s (see all_in_window).
    ValueError when the hold is too short for that at any rate."""
    span = settle + hold - END_MARGIN_S - START_MARGIN_S - together
    if span <= 0:
        raise ValueError(f"a {hold:g} s hold leaves no {together:g} s with every caller in")
    return max(rate, round((callers - 1) / span, 2))


def net_cpu_ms(cpu_s: float, idle_ms_per_s: float, seconds: float, units: float) -> float:
    """CPU ms per unit (a call, a call-second) of `cpu_s` CPU-seconds over `seconds` of wall
    time, less what the process spends idle in that time."""
    return round((cpu_s * 1000 - idle_ms_per_s * seconds) / units, 3)


def _ratio(a: float | None, b: float | None) -> float | None:
    return round(a / b, 2) if a is not None and b else None


def against_targets(figures: dict[str, Any]) -> dict[str, Any]:
    """The issue's three targets with the figures they are about; `met` is None where a
    figure was not measured in this run."""
    dtmf = figures.get("dtmf_call", {})
    silent = figures.get("silent", {})
    ceiling = figures.get("max_callers", {})
    ratio = _ratio(dtmf.get("hotline", {}).get("cpu_ms_per_call", {}).get("total"),
                   dtmf.get("plain", {}).get("cpu_ms_per_call", {}).get("total"))
    silent_ms = silent.get("hotline", {}).get("ms_per_call_second", {}).get("total")
    callers = ceiling.get("hotline", {}).get("max_callers_without_failure")
    return {
        "dtmf_cpu_ratio_hotline_over_plain": {
            "value": ratio, "target": f"<= {MAX_DTMF_CPU_RATIO:g}",
            "met": None if ratio is None else ratio <= MAX_DTMF_CPU_RATIO},
        "silent_ms_per_call_second_hotline": {
            "value": silent_ms, "target": f"<= {MAX_SILENT_MS_PER_CALL_S:g}",
            "met": None if silent_ms is None else silent_ms <= MAX_SILENT_MS_PER_CALL_S},
        "max_callers_hotline": {
            "value": callers, "target": f">= {MIN_CALLERS}",
            "met": None if callers is None else callers >= MIN_CALLERS},
        "silent_ratio_hotline_over_plain": _ratio(
            silent_ms, silent.get("plain", {}).get("ms_per_call_second", {}).get("total")),
    }


def _cell(value: Any) -> str:
    return "-" if value is None else f"{value:g}" if isinstance(value, float) else str(value)


def table(figures: dict[str, Any]) -> str:
    """A short table of the figures for people: one row per measure, plain | hotline | ratio
    | target."""
    rows: list[tuple[str, Any, Any, Any, str]] = []
    targets = figures.get("targets") or against_targets(figures)
    for run, measure, label, target in (
            ("dtmf_call", "cpu_ms_per_call", "CPU ms per DTMF call",
             targets["dtmf_cpu_ratio_hotline_over_plain"]["target"] + " x"),
            ("silent", "ms_per_call_second", "silent CPU ms per call-s",
             targets["silent_ms_per_call_second_hotline"]["target"] + " ms")):
        for part in ("asterisk", "python", "total"):
            by = {n: figures.get(run, {}).get(n, {}).get(measure, {}).get(part)
                  for n in ("plain", "hotline")}
            rows.append((f"{label}, {part}", by["plain"], by["hotline"],
                         _ratio(by["hotline"], by["plain"]), target if part == "total" else ""))
    most = {n: figures.get("max_callers", {}).get(n, {}).get("max_callers_without_failure")
            for n in ("plain", "hotline")}
    rows.append(("callers in the menu, 0 failed", most["plain"], most["hotline"],
                 _ratio(most["hotline"], most["plain"]),
                 targets["max_callers_hotline"]["target"]))
    head = ("", "plain 12399", "hotline 12306", "ratio", "target (hotline)")
    lines = [head] + [(name, _cell(p), _cell(h), _cell(r), t) for name, p, h, r, t in rows]
    widths = [max(len(line[i]) for line in lines) for i in range(len(head))]
    return "\n".join(
        "  ".join(cell.ljust(widths[i]) if i == 0 else cell.rjust(widths[i])
                  for i, cell in enumerate(line)).rstrip()
        for line in lines)
