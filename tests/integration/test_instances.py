"""Two PBX instances from one root run side by side (tests beside `make run`)."""

from __future__ import annotations

from pathlib import Path

from app.config import Settings
from app.pbx import sandbox
from tests.integration.conftest import Platform


def test_a_second_instance_runs_beside_the_tests(platform: Platform, tmp_path: Path) -> None:
    base = platform.settings
    # Named and numbered after the tests' own instance, so other test runs keep theirs.
    half = (base.rtp_start + base.rtp_end) // 2
    side = Settings(instance=f"{base.instance}-side", state_dir=tmp_path / "state",
                    pbx_root=base.root, sip_port=base.sip_port + 5, rtp_start=half - 200,
                    rtp_end=half, ari_port=base.ari_port + 5, ami_port=base.ami_port + 5,
                    api_port=base.api_port + 5)
    sandbox.start(side)
    try:
        ok, text = sandbox.status(side)
        assert ok, text
        # Each answers on its own control socket with its own transport.
        assert str(side.sip_port) in sandbox.cli(side, "pjsip show transports")
        assert str(side.sip_port) not in sandbox.cli(base, "pjsip show transports")
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
