"""Erlang C: how many agents a queue needs, and what callers will wait.

  traffic A (Erlangs)  = calls × AHT ÷ period           (AHT: average handle time)
  P(wait)              = Erlang C(N, A): the chance a caller waits at all, N agents
  ASA                  = P(wait) × AHT ÷ (N − A)         (average speed of answer)
  service level (T s)  = 1 − P(wait) × e^(−(N − A)·T ÷ AHT)

Erlang C is computed from Erlang B's recurrence (B(0) = 1, B(n) = A·B(n−1) ÷ (n + A·B(n−1))),
which stays exact for hundreds of agents where the textbook factorial form overflows.
With N ≤ A the queue grows without bound: every caller waits, ASA is infinite.
"""

from __future__ import annotations

import math


def traffic(calls: float, aht: float, period: float) -> float:
    """Offered traffic in Erlangs: `calls` arriving over `period` seconds, `aht` seconds each."""
    if period <= 0:
        raise ValueError("period must be positive")
    return calls * aht / period


def erlang_b(agents: int, load: float) -> float:
    b = 1.0
    for n in range(1, agents + 1):
        b = load * b / (n + load * b)
    return b


def p_wait(agents: int, load: float) -> float:
    """Probability that a caller has to wait (Erlang C)."""
    if load <= 0:
        return 0.0
    if agents <= load:
        return 1.0
    b = erlang_b(agents, load)
    return agents * b / (agents - load * (1 - b))


def asa(agents: int, load: float, aht: float) -> float:
    """Average speed of answer in seconds (over all callers, those answered at once count 0)."""
    if agents <= load:
        return math.inf
    return p_wait(agents, load) * aht / (agents - load)


def service_level(agents: int, load: float, aht: float, target: float) -> float:
    """Share of callers answered within `target` seconds."""
    if agents <= load:
        return 0.0
    return 1.0 - p_wait(agents, load) * math.exp(-(agents - load) * target / aht)


def agents_needed(load: float, aht: float, target: float, goal: float) -> int:
    """Fewest agents for which service_level(target) reaches `goal` (e.g. 0.8 within 20 s)."""
    if not 0 < goal < 1:
        raise ValueError("goal is a share between 0 and 1 (e.g. 0.8)")
    n = max(1, math.floor(load) + 1)
    while service_level(n, load, aht, target) < goal:
        n += 1
    return n
