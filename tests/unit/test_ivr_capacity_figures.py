"""The arithmetic of bench/ivr_capacity.py: steps, the all-in window, net CPU, targets, table."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest


def _load() -> ModuleType:
    path = Path(__file__).resolve().parents[2] / "bench" / "ivr_capacity_figures.py"
    spec = importlib.util.spec_from_file_location("ivr_capacity_figures", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


fig = _load()


def test_steps_are_rising_caller_counts() -> None:
    assert fig.parse_steps("50,100, 200,") == [50, 100, 200]


@pytest.mark.parametrize(("text", "says"), [
    ("50,x", "whole numbers"), ("", "at least one step"), ("0,10", "at least 1 caller"),
    ("100,50", "must rise"), ("50,50", "must rise")])
def test_bad_steps_are_refused_with_a_reason(text: str, says: str) -> None:
    with pytest.raises(ValueError, match=says):
        fig.parse_steps(text)


def test_window_runs_from_the_last_arrival_to_the_first_hang_up() -> None:
    # 50 callers at 20/s: the last is placed 2.45 s in; the first hangs up 24.5 s in.
    start, end = fig.all_in_window(50, 20, 0.5, 24)
    assert start == pytest.approx(2.45 + fig.START_MARGIN_S)
    assert end == pytest.approx(24.5 - fig.END_MARGIN_S)


def test_a_hold_too_short_for_every_caller_to_be_in_at_once_is_refused() -> None:
    with pytest.raises(ValueError, match="not all in the call"):
        fig.all_in_window(500, 20, 0.5, 24)  # the last arrives ~25 s in


def test_net_cpu_leaves_out_the_idle_share() -> None:
    # 2 CPU-seconds over 10 s with 50 ms/s idle: 1.5 s for 100 calls = 15 ms a call.
    assert fig.net_cpu_ms(2.0, 50, 10, 100) == 15.0


def _figures(plain_call: float, hotline_call: float, silent: float,
             callers: int) -> dict[str, Any]:
    return {
        "dtmf_call": {"plain": {"cpu_ms_per_call": {"total": plain_call}},
                      "hotline": {"cpu_ms_per_call": {"total": hotline_call}}},
        "silent": {"plain": {"ms_per_call_second": {"total": 0.5}},
                   "hotline": {"ms_per_call_second": {"total": silent}}},
        "max_callers": {"hotline": {"max_callers_without_failure": callers}},
    }


def test_targets_met() -> None:
    got = fig.against_targets(_figures(20, 40, 1.5, 500))
    assert got["dtmf_cpu_ratio_hotline_over_plain"] == {"value": 2.0, "target": "<= 2",
                                                        "met": True}
    assert got["silent_ms_per_call_second_hotline"]["met"] is True
    assert got["max_callers_hotline"]["met"] is True
    assert got["silent_ratio_hotline_over_plain"] == 3.0


def test_targets_missed() -> None:
    got = fig.against_targets(_figures(21, 128, 9.5, 200))
    assert got["dtmf_cpu_ratio_hotline_over_plain"]["value"] == 6.1
    assert not got["dtmf_cpu_ratio_hotline_over_plain"]["met"]
    assert not got["silent_ms_per_call_second_hotline"]["met"]
    assert not got["max_callers_hotline"]["met"]


def test_targets_of_parts_not_run_are_unknown() -> None:
    got = fig.against_targets({"max_callers": {"hotline": {"max_callers_without_failure": 300}}})
    assert got["dtmf_cpu_ratio_hotline_over_plain"]["met"] is None
    assert got["silent_ms_per_call_second_hotline"]["value"] is None
    assert got["max_callers_hotline"] == {"value": 300, "target": ">= 500", "met": False}


def test_table_puts_each_figure_under_its_number() -> None:
    text = fig.table(_figures(20.0, 50.0, 1.2, 300))
    lines = text.splitlines()
    assert lines[0].split()[:4] == ["plain", "12399", "hotline", "12306"]
    total = next(ln for ln in lines if ln.startswith("CPU ms per DTMF call, total"))
    assert total.split()[-6:] == ["20", "50", "2.5", "<=", "2", "x"]
    most = next(ln for ln in lines if ln.startswith("callers in the menu"))
    assert most.split()[-5:] == ["-", "300", "-", ">=", "500"]


def test_steps_go_at_the_base_rate_while_their_callers_are_in_together_long_enough() -> None:
    assert fig.step_rate(100, 20, 0.5, 24) == 20


def test_a_large_step_goes_just_fast_enough_to_have_its_callers_in_together() -> None:
    rate = fig.step_rate(500, 20, 0.5, 24)
    assert rate > 20
    start, end = fig.all_in_window(500, rate, 0.5, 24)
    assert end - start == pytest.approx(fig.STEP_TOGETHER_S, abs=0.05)


def test_a_hold_too_short_to_have_callers_in_together_at_any_rate_is_refused() -> None:
    with pytest.raises(ValueError, match="leaves no"):
        fig.step_rate(10, 20, 0.5, 10)
