"""Parallel test workers each get an instance of their own (tests/instance.py)."""

from __future__ import annotations

import itertools
import os

import pytest

from tests.instance import PORTS, instance_env


def env_of(monkeypatch: pytest.MonkeyPatch, worker: str | None, count: int) -> dict[str, str]:
    for key in list(os.environ):
        if key.startswith("HOTLINE_TEST_"):
            monkeypatch.delenv(key)
    if worker is None:
        monkeypatch.delenv("PYTEST_XDIST_WORKER", raising=False)
        monkeypatch.delenv("PYTEST_XDIST_WORKER_COUNT", raising=False)
    else:
        monkeypatch.setenv("PYTEST_XDIST_WORKER", worker)
        monkeypatch.setenv("PYTEST_XDIST_WORKER_COUNT", str(count))
    return instance_env()


def test_one_process_keeps_the_tests_instance(monkeypatch: pytest.MonkeyPatch) -> None:
    env = env_of(monkeypatch, None, 1)
    assert env["HOTLINE_STATE_DIR"].endswith("/instances/test")
    assert env["HOTLINE_INSTANCE"] == "test"
    assert (env["HOTLINE_SIP_PORT"], env["HOTLINE_RTP_START"], env["HOTLINE_RTP_END"]) == (
        "15060", "21000", "29999")


def test_workers_own_their_instance_ports_and_rtp_share(monkeypatch: pytest.MonkeyPatch) -> None:
    envs = [env_of(monkeypatch, f"gw{n}", 4) for n in range(4)]
    assert [e["HOTLINE_INSTANCE"] for e in envs] == ["test", "test-w1", "test-w2", "test-w3"]
    assert [e["HOTLINE_STATE_DIR"] for e in envs[1:]] == [
        envs[0]["HOTLINE_STATE_DIR"] + f"-w{n}" for n in (1, 2, 3)]
    ports = [int(e[f"HOTLINE_{key}"]) for e in envs for key in PORTS]
    assert len(ports) == len(set(ports))  # no port is any two instances'
    # Developers' instances step by 100 from the tests' ports: none of theirs is a worker's.
    developers = {int(envs[0][f"HOTLINE_{key}"]) + 100 * k for key in PORTS for k in range(1, 10)}
    assert not developers & set(ports)
    shares = [range(int(e["HOTLINE_RTP_START"]), int(e["HOTLINE_RTP_END"]) + 1) for e in envs]
    assert shares[0].start == 21000 and shares[-1].stop <= 30000
    for one, next_one in itertools.pairwise(shares):
        assert one.stop <= next_one.start and len(one) % 2 == 0 and one.start % 2 == 0
    assert all(p < 21000 for p in ports)  # no service port inside a media range
