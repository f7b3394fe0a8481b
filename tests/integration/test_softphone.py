"""`hotline softphone` against a real Asterisk: it registers as an agent and takes real calls.

The PBX is an instance of its own, rendered from a copy of dialplans/ with a static agent-1001
(tests/integration/static_agent.py); 7001 in from-callers dials it with the
X-Hotline-Call-Id header set by a pre-dial handler.
"""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from app.config import Settings
from app.pbx import sandbox
from tests.data import SPEECH
from tests.integration import static_agent
from tests.integration.conftest import wait_for

CALLER_SPEECH = SPEECH / "ulaw8k" / "002.wav"


@pytest.fixture(scope="module")
def agent_pbx(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    """Its own PBX instance beside the tests' one (which may be up with the plain dialplans)."""
    base = Settings()
    dialplans = static_agent.write_dialplans(
        base.dialplans_dir, tmp_path_factory.mktemp("agent-pbx") / "dialplans")
    half = (base.rtp_start + base.rtp_end) // 2
    settings = Settings(
        instance=f"{base.instance}-agent", state_dir=tmp_path_factory.mktemp("agent-state"),
        pbx_root=base.root, dialplans_dir=dialplans, sip_port=base.sip_port + 7,
        ari_port=base.ari_port + 7, ami_port=base.ami_port + 7, rtp_start=half + 1,
        rtp_end=base.rtp_end,
    )
    sandbox.start(settings)
    try:
        yield settings
    finally:
        sandbox.stop(settings)


STARTED: list[subprocess.Popen[str]] = []


@pytest.fixture(autouse=True)
def no_process_left() -> Iterator[None]:
    """A failed test leaves no phone or caller running into the next one."""
    yield
    while STARTED:
        proc = STARTED.pop()
        if proc.poll() is None:
            proc.kill()
            proc.communicate()


def start(*args: str) -> subprocess.Popen[str]:
    proc = subprocess.Popen([sys.executable, "-m", "app.cli", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    STARTED.append(proc)
    return proc


class Phone:
    """A running `hotline softphone` process."""

    def __init__(self, pbx: Settings, *args: str) -> None:
        self.pbx = pbx
        self.proc = start("softphone", "--pbx", sip_address(pbx), *args)

    def registered(self) -> bool:
        return f"agent-{static_agent.AGENT}/sip:" in sandbox.cli(self.pbx, "pjsip show contacts")

    def wait_registered(self) -> None:
        wait_for(lambda: self.registered() or self.proc.poll() is not None, 20,
                 "agent-1001 listed in pjsip show contacts")
        assert self.proc.poll() is None, self.result()

    def result(self, timeout: float = 90) -> tuple[int, dict[str, Any]]:
        out, err = self.proc.communicate(timeout=timeout)
        assert out.strip(), f"hotline softphone printed nothing: {err}"
        summary: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
        return self.proc.returncode, summary


def sip_address(pbx: Settings) -> str:
    return f"127.0.0.1:{pbx.sip_port}"


def ring_agent(pbx: Settings, *args: str) -> subprocess.Popen[str]:
    """A caller (`hotline call`) into 7001, which dials agent-1001."""
    return start("call", "--to", static_agent.RING_AGENT, "--pbx", sip_address(pbx),
                 "--api", "none", "--timeout", "60", *args)


def caller_result(proc: subprocess.Popen[str]) -> dict[str, Any]:
    out, err = proc.communicate(timeout=90)
    assert out.strip(), f"hotline call printed nothing: {err}"
    summary: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    return summary


def rtp_counts(pbx: Settings, channel_prefix: str) -> tuple[int, int] | None:
    """(received, transmitted) RTP packets of a live channel, from pjsip show channelstats."""
    for line in sandbox.cli(pbx, "pjsip show channelstats").splitlines():
        cols = line.split()
        if len(cols) >= 9 and cols[1].startswith(channel_prefix) and cols[4].isdigit():
            return int(cols[4]), int(cols[8])
    return None


def test_agent_registers_answers_with_the_call_id_and_audio_flows_both_ways(
    agent_pbx: Settings,
) -> None:
    phone = Phone(agent_pbx, "--agent", static_agent.AGENT, "--password", static_agent.PASSWORD,
                  "--answer-after", "1", "--hold", "6")
    phone.wait_registered()
    caller = ring_agent(agent_pbx, "--speech", str(CALLER_SPEECH), "--hold", "20")
    seen: list[tuple[int, int]] = []

    def both_ways() -> bool:
        counts = rtp_counts(agent_pbx, f"agent-{static_agent.AGENT}")
        if counts:
            seen.append(counts)
        return bool(counts and counts[0] > 0 and counts[1] > 0)

    # The agent's leg: received = the phone's RTP silence, transmitted = the caller's speech.
    wait_for(both_ways, 20, "RTP in both directions on the agent's channel")
    code, summary = phone.result()
    assert code == 0, summary
    assert summary["agent"] == static_agent.AGENT and summary["registered"] and summary["ok"]
    assert summary["unregistered"]
    [call] = summary["calls"]
    assert call["answered"] and call["hung_up_by"] == "agent"
    assert call["from"] == "138****8000"
    assert call["call_id"] == static_agent.CALL_ID
    assert call["talk_seconds"] > 0
    heard = caller_result(caller)
    assert heard["answered"] and heard["hung_up_by"] == "hotline", heard
    # Unregistered (Expires: 0): the contact is gone.
    assert not phone.registered()


def test_reject_gives_busy_to_the_dial(agent_pbx: Settings) -> None:
    phone = Phone(agent_pbx, "--agent", static_agent.AGENT, "--password", static_agent.PASSWORD,
                  "--reject", "--answer-after", "0.5")
    phone.wait_registered()
    heard = caller_result(ring_agent(agent_pbx, "--hold", "1"))
    # Dial saw BUSY and hung the caller up with it: 486 to the caller too.
    assert heard["final_response"] == 486 and not heard["answered"], heard
    code, summary = phone.result()
    assert code == 0 and summary["ok"], summary
    [call] = summary["calls"]
    assert call["result"] == "rejected" and not call["answered"]
    assert call["call_id"] == static_agent.CALL_ID and call["talk_seconds"] is None


def test_wrong_password_is_not_registered(agent_pbx: Settings) -> None:
    phone = Phone(agent_pbx, "--agent", static_agent.AGENT, "--password", "wrong",
                  "--timeout", "5")
    code, summary = phone.result()
    assert code == 1
    assert summary["registered"] is False and summary["ok"] is False
    assert re.search(r"registration refused \(40[13]\)", summary["error"]), summary
    assert not phone.registered()


def test_takes_two_calls_talking_speech_until_the_caller_hangs_up(agent_pbx: Settings) -> None:
    # A 16-bit PCM file: converted to mu-law like `hotline call --speech` does.
    talk = SPEECH / "pcm8k" / "001.wav"
    phone = Phone(agent_pbx, "--agent", static_agent.AGENT, "--password", static_agent.PASSWORD,
                  "--calls", "2", "--answer-after", "0", "--talk", str(talk))
    phone.wait_registered()
    first = caller_result(ring_agent(agent_pbx, "--hold", "2"))
    second = caller_result(ring_agent(agent_pbx, "--hold", "3"))
    assert first["answered"] and second["answered"]
    assert first["hung_up_by"] == second["hung_up_by"] == "caller"
    code, summary = phone.result()
    assert code == 0 and summary["ok"], summary
    assert len(summary["calls"]) == 2
    for call in summary["calls"]:
        assert call["answered"] and call["hung_up_by"] == "caller"
        assert call["call_id"] == static_agent.CALL_ID and call["talk_seconds"] > 0


def test_a_call_given_up_while_ringing_is_cancelled_not_taken(agent_pbx: Settings) -> None:
    phone = Phone(agent_pbx, "--agent", static_agent.AGENT, "--password", static_agent.PASSWORD,
                  "--answer-after", "5", "--timeout", "8")
    phone.wait_registered()
    # The PBX checks the contact with OPTIONS (qualify_frequency) and the phone answers them.
    wait_for(lambda: re.search(r"agent-1001/sip:\S+\s+\S+\s+Avail",
                               sandbox.cli(agent_pbx, "pjsip show contacts")) is not None,
             10, "agent-1001's contact Avail")
    heard = caller_result(start("call", "--to", static_agent.RING_BRIEFLY, "--pbx",
                                sip_address(agent_pbx), "--api", "none", "--hold", "1"))
    assert not heard["answered"], heard
    code, summary = phone.result()
    assert code == 1 and summary["registered"] and not summary["ok"]
    [call] = summary["calls"]
    assert call["result"] == "cancelled" and not call["answered"]
    assert "took 0 of 1" in summary["error"]


def test_no_call_within_the_timeout_is_not_ok(agent_pbx: Settings) -> None:
    phone = Phone(agent_pbx, "--agent", static_agent.AGENT, "--password", static_agent.PASSWORD,
                  "--timeout", "2")
    code, summary = phone.result()
    assert code == 1
    assert summary["registered"] and summary["unregistered"] and not summary["ok"]
    assert summary["calls"] == [] and "took 0 of 1" in summary["error"]


def test_static_agent_fixture_config(tmp_path: Path) -> None:
    source = Settings().dialplans_dir
    out = static_agent.write_dialplans(source, tmp_path / "d")
    pjsip = (out / "pjsip.conf").read_text()
    assert "endpoint_identifier_order = username,ip" in pjsip
    assert f"md5_cred = {hashlib.md5(b'1001:hotline:secret').hexdigest()}" in pjsip
    assert "username = 1001" in pjsip and "realm = hotline" in pjsip
    assert "Set(PJSIP_HEADER(add,X-Hotline-Call-Id)=test-123)" in (out / "extensions.conf"
                                                                   ).read_text()
