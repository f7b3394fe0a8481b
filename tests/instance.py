"""The tests' own platform instance: own state dir, ports and PBX config, beside `make run`.

The PBX root (Asterisk binaries, prompt audio) and the speech model are shared with the main
instance; everything that a running instance owns is separate, so `make test` runs while an
engineer keeps `make run` up. HOTLINE_TEST_<NAME> overrides any value below.
"""

from __future__ import annotations

import os

from app.config import Settings


def instance_env() -> dict[str, str]:
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
    }
    env = {f"HOTLINE_{k}": os.environ.get(f"HOTLINE_TEST_{k}", v) for k, v in values.items()}
    if "HOTLINE_TEST_AGI_PORT" not in os.environ:
        # Beside the instance's API port, so instances with their own ports never share it.
        env["HOTLINE_AGI_PORT"] = str(int(env["HOTLINE_API_PORT"]) + 3)
    return env


def use_test_instance() -> None:
    """Point this process and every child it starts at the test instance."""
    for key in ("HOTLINE_ARI_PASSWORD", "HOTLINE_AMI_SECRET", "HOTLINE_DATABASE_URL"):
        os.environ.pop(key, None)
    os.environ.update(instance_env())
