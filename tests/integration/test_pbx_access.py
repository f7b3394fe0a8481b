"""What the sandbox PBX allows: Asterisk's own user, the AMI user's rights, the test numbers."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from app.config import Settings
from app.pbx import sandbox
from tests.integration.ami_client import AmiClient
from tests.integration.conftest import Platform


@pytest.fixture
def ami(pbx: Settings) -> Iterator[AmiClient]:
    client = AmiClient(pbx, events="dialplan")
    yield client
    client.close()


def process_ids(pid: int) -> tuple[set[int], set[int]]:
    """(real, effective, saved, fs uids), the same for gids, of a running process."""
    fields = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text()
                  .splitlines() if ":" in line)
    return ({int(v) for v in fields["Uid"].split()}, {int(v) for v in fields["Gid"].split()})


def test_asterisk_runs_as_the_pbx_user_not_root(pbx: Settings) -> None:
    pid = int(sandbox.pid_file(pbx).read_text())
    assert b"asterisk" in Path(f"/proc/{pid}/cmdline").read_bytes()
    uid, gid = sandbox.pbx_account(pbx.root)
    assert uid != 0 and gid != 0
    assert process_ids(pid) == ({uid}, {gid})
    # Everything it writes still works as that user: its astdb, logs and control socket.
    assert "successfully" in sandbox.cli(pbx, "database put hotline-test probe 1")
    assert "probe" in sandbox.cli(pbx, "database show hotline-test")
    sandbox.cli(pbx, "database deltree hotline-test")
    assert sandbox.messages_log(pbx).stat().st_uid == uid
    # Its config stays root's: readable through the group, not writable.
    etc = pbx.pbx_etc
    assert etc.stat().st_uid == 0 and etc.stat().st_gid == gid
    for secret in ("ari.conf", "manager.conf", "pjsip_agents.conf"):
        info = (etc / secret).stat()
        assert (info.st_uid, info.st_gid, info.st_mode & 0o777) == (0, gid, 0o640), secret


def test_the_ami_user_queries_and_records_but_cannot_originate_or_run_commands(
        ami: AmiClient) -> None:
    assert ami.action("Ping")["Response"] == "Success"
    # Read-only queries, for a feed's snapshot after it connects.
    assert ami.action("CoreShowChannels")["Response"] == "Success"
    assert ami.action("CoreStatus")["Response"] == "Success"
    # Recordings' actions are allowed (an unknown channel is the only refusal).
    for name in ("MixMonitor", "MixMonitorMute", "StopMixMonitor"):
        refused = ami.action(name, Channel="PJSIP/nobody-00000000", State="1")
        assert refused["Message"] != "Permission denied", (name, refused)
    # Each would be harmless if it ran (a refusal is the only answer that passes).
    for name, fields in (
        ("Originate", {"Channel": "Local/95105@from-callers", "Application": "Wait",
                       "Data": "1"}),
        ("Command", {"Command": "core show version"}),
    ):
        response = ami.action(name, **fields)
        assert response["Response"] == "Error", (name, response)
        assert response["Message"] == "Permission denied", (name, response)


def apps_run(ami: AmiClient, number: str) -> list[tuple[str, str]]:
    """(application, data) of every dialplan step a call to number ran, in order."""
    channels = {e["Channel"] for e in ami.events("Newexten")
                if e.get("Exten") == number and e.get("Context") == "from-callers"}
    return [(e["Application"], e.get("AppData", "")) for e in ami.events("Newexten")
            if e.get("Channel") in channels]


def render(platform: Platform, dev_lines: bool) -> None:
    # The platform's own database: the agents' SIP accounts are rendered with the dialplan.
    settings = platform.settings.model_copy(
        update={"dev_lines": dev_lines, "database_url": platform.db_url})
    sandbox.render_config(settings)
    sandbox.cli(settings, "dialplan reload")


def test_test_numbers_exist_only_when_rendered_with_dev_lines(
        platform: Platform, ami: AmiClient) -> None:
    # The tests render with HOTLINE_DEV_LINES=1 (tests/instance.py).
    assert sandbox.dev_lines_loaded(platform.settings)
    platform.call("--to", "12300", "--hold", "1")
    assert ("Stasis", "hotline,echo") in apps_run(ami, "12300")
    platform.call("--to", "12399", "--hold", "1")
    assert ("Goto", "bench-dialplan-menu,s,1") in apps_run(ami, "12399")
    ami.messages.clear()
    try:
        render(platform, dev_lines=False)
        assert not sandbox.dev_lines_loaded(platform.settings)
        assert "bench-dialplan-menu" not in sandbox.cli(platform.settings, "dialplan show")
        for number in ("12300", "12399"):
            summary = platform.call("--to", number, "--hold", "10")
            assert summary["answered"] and summary["hung_up_by"] == "hotline", summary
            assert apps_run(ami, number) == [
                ("Answer", ""), ("Playback", "ss-noservice"), ("Hangup", "")]
            recent = platform.get("/api/v1/calls/recent", sip_call_id=summary["sip_call_id"])
            assert recent.json() == [], "the platform never saw the call"
    finally:
        render(platform, dev_lines=True)
    assert sandbox.dev_lines_loaded(platform.settings)
