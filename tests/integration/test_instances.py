"""Two PBX instances from one root run side by side (tests beside `make run`)."""

from __future__ import annotations

from pathlib import Path

from app.config import Settings
from app.pbx import sandbox
from tests.integration.conftest import Platform


def test_a_second_instance_runs_beside_the_tests(platform: Platform, tmp_path: Path) -> None:
    side = Settings(instance="side", state_dir=tmp_path / "state", pbx_root=platform.settings.root,
                    sip_port=15160, rtp_start=30000, rtp_end=30999, ari_port=18188,
                    ami_port=15138, api_port=18180)
    sandbox.start(side)
    try:
        ok, text = sandbox.status(side)
        assert ok, text
        # Each answers on its own control socket with its own transport.
        assert "15160" in sandbox.cli(side, "pjsip show transports")
        assert "15160" not in sandbox.cli(platform.settings, "pjsip show transports")
        assert sandbox.messages_log(side) != sandbox.messages_log(platform.settings)
        # The tests' platform keeps taking calls meanwhile.
        summary = platform.call("--to", "12300", "--dtmf", "1", "--hold", "1")
        assert summary["answered"], summary
    finally:
        sandbox.stop(side)
    assert not sandbox.is_running(side)
    ok, text = sandbox.status(platform.settings)
    assert ok, text
    assert platform.health() == 200
