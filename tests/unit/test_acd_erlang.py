"""Erlang C against textbook values."""

from __future__ import annotations

import math

import pytest

from app.acd.erlang import agents_needed, asa, p_wait, service_level, traffic


def test_traffic_is_calls_times_aht_over_period() -> None:
    assert traffic(100, 180, 1800) == pytest.approx(10.0)  # 100 calls in 30 min, 3 min each
    with pytest.raises(ValueError):
        traffic(1, 1, 0)


def test_textbook_example_ten_erlangs() -> None:
    # The classic worked example: 10 Erlangs, AHT 180 s, answer target 20 s.
    a = 10.0
    assert p_wait(11, a) == pytest.approx(0.6821, abs=1e-4)
    assert asa(11, a, 180) == pytest.approx(122.8, abs=0.1)
    assert p_wait(14, a) == pytest.approx(0.1741, abs=1e-4)
    assert asa(14, a, 180) == pytest.approx(7.8, abs=0.1)
    assert service_level(14, a, 180, 20) == pytest.approx(0.888, abs=1e-3)
    assert agents_needed(a, 180, 20, 0.8) == 14


def test_closed_forms_for_small_systems() -> None:
    # M/M/1: P(wait) = ρ. M/M/2 with A = 1: (A²/2!·2/(2−A)) / (1 + A + that) = 1/(1+1+1)
    assert p_wait(1, 0.5) == pytest.approx(0.5)
    assert p_wait(2, 1.0) == pytest.approx(1 / 3)
    assert asa(1, 0.5, 100) == pytest.approx(100.0)  # ρ·AHT/(1−ρ)


def test_overloaded_and_idle_queues() -> None:
    assert p_wait(10, 10.0) == 1.0
    assert asa(10, 12.0, 180) == math.inf
    assert service_level(5, 6.0, 180, 20) == 0.0
    assert p_wait(3, 0.0) == 0.0


def test_many_agents_stay_finite() -> None:
    value = p_wait(500, 480.0)
    assert 0.0 < value < 1.0
    with pytest.raises(ValueError):
        agents_needed(10.0, 180, 20, 80)
