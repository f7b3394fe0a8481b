"""The tests' own platform instance: own state dir, ports and PBX config, beside `make run`.

The PBX root (Asterisk binaries, prompt audio) and the speech model are shared with the main
instance; everything that a running instance owns is separate, so `make test` runs while an
engineer keeps `make run` up. HOTLINE_TEST_<NAME> overrides any value below.
"""

from __future__ import annotations

import os

from app.config import Settings


def instance_env(for_worker: bool = True) -> dict[str, str]:
    main = Settings()
    values = {
        "INSTANCE": "test",
        "STATE_DIR": str(main.state_dir / "instances" / "test"),
        "PBX_ROOT": str(main.root),
        "SIP_PORT": "15060",
        # Below Linux's ephemeral range, so SIPp's own free ports never take the PBX's.
        "RTP_START": "21000",
        "RTP_END": "29999",
        "ARI_PORT": "18088",
        "AMI_PORT": "15038",
        "API_PORT": "18080",
        "PASSENGER_PORT": "15080",  # test passengers' phones, for callbacks
        "AGI_PORT": "18083",  # the FastAGI server of the tests' `hotline serve`
        "DEV_LINES": "1",  # the echo line 12300 and the plain-dialplan menu 12399
        # Callers without media are hung up sooner than in production (30 s), so the test of
        # it is short, and every other test shows that its calls keep their media flowing.
        "RTP_TIMEOUT": "10",
        # One natural-voice worker per test platform: parallel test workers each run one,
        # and more would take the cores the calls under test need.
        "TTS_WORKERS": "1",
        # No background recognisers past the 8 warm ones: made by three test platforms at
        # once, right after start, they took the cores the first tests' calls needed.
        "ASR_PREFILL": "8",
    }
    env = {f"HOTLINE_{k}": os.environ.get(f"HOTLINE_TEST_{k}", v) for k, v in values.items()}
    if "HOTLINE_TEST_AGI_PORT" not in os.environ:
        # Beside the instance's API port, so instances with their own ports never share it.
        env["HOTLINE_AGI_PORT"] = str(int(env["HOTLINE_API_PORT"]) + 3)
    worker, workers = _xdist_worker() if for_worker else (0, 1)
    return _for_worker(env, worker, workers) if workers > 1 else env


# Every port of an instance, moved per parallel test worker by 100 * N - 50: between the
# 100-wide steps developers' own instances take above the tests' ports (an instance's ports
# lie within 50 of each other), and below the RTP range.
PORTS = ("SIP_PORT", "ARI_PORT", "AMI_PORT", "API_PORT", "PASSENGER_PORT", "AGI_PORT")


def _xdist_worker() -> tuple[int, int]:
    """This process's parallel test worker (`pytest -n N`: gw0 .. gwN-1) and their count;
    (0, 1) when the tests run in one process."""
    name = os.environ.get("PYTEST_XDIST_WORKER", "")
    if not name.startswith("gw"):
        return 0, 1
    return int(name[2:]), int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))


def _for_worker(env: dict[str, str], worker: int, workers: int) -> dict[str, str]:
    """Worker N > 0 of a parallel run gets its own instance: name, state dir, ports and a
    share of the RTP range (worker 0 keeps the instance as it is, with its share)."""
    moved = dict(env)
    if worker:
        moved["HOTLINE_INSTANCE"] = f"{env['HOTLINE_INSTANCE']}-w{worker}"
        moved["HOTLINE_STATE_DIR"] = f"{env['HOTLINE_STATE_DIR']}-w{worker}"
        for key in PORTS:
            moved[f"HOTLINE_{key}"] = str(int(env[f"HOTLINE_{key}"]) + 100 * worker - 50)
    start, end = int(env["HOTLINE_RTP_START"]), int(env["HOTLINE_RTP_END"])
    share = (end - start + 1) // max(workers, 1) // 2 * 2  # even: RTP and RTCP pairs
    moved["HOTLINE_RTP_START"] = str(start + share * worker)
    moved["HOTLINE_RTP_END"] = str(start + share * (worker + 1) - 1)
    return moved


def use_test_instance() -> None:
    """Point this process and every child it starts at the test instance."""
    for key in ("HOTLINE_ARI_PASSWORD", "HOTLINE_AMI_SECRET", "HOTLINE_DATABASE_URL"):
        os.environ.pop(key, None)
    # Parallel workers are children of this process and see its HOTLINE_ values: they start
    # from the same instance, not from one derived from this process's.
    for key, value in instance_env(for_worker=False).items():
        os.environ.setdefault(key.replace("HOTLINE_", "HOTLINE_TEST_", 1), value)
    os.environ.update(instance_env())
