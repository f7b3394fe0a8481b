"""Agent conversations recorded on the real PBX: stereo (caller left, agent right), verified,
exported, paused, served with HTTP Range to the right people, and kept through a crash."""

from __future__ import annotations

import concurrent.futures
import json
import signal
import time
import wave
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

from tests.data import SPEECH
from tests.integration.conftest import Platform, start_serve, wait_for
from tests.integration.test_acd import (
    agent,
    agent_view,
    hotline,
    phone,
    phone_result,
    release,
    set_state,
    token_of,
)
from tests.integration.test_recovery import call_id_of, live_ids, rows

CLIP = "002.wav"  # 帮我查一下我的订单: ticket_query
SECONDS_TO_CONNECT = ",,,,,,,,,,,,,"  # keys 0 then pauses: the clip goes after the answer


@pytest.fixture(autouse=True)
def clean(platform: Platform) -> Iterator[None]:
    yield
    release(platform, 30)


def recording_of(platform: Platform, call_id: str, timeout: float = 30) -> dict[str, Any]:
    """The call's finished recording, as the API shows it to a supervisor."""
    def ready() -> bool:
        return bool(rows(platform, "select 1 from recordings where call_id = ? and status "
                                   "in ('ready', 'partial')", call_id))
    wait_for(ready, timeout, f"recording of {call_id} finalised")
    [(rec_id,)] = rows(platform, "select id from recordings where call_id = ?", call_id)
    return dict(platform.get(f"/api/v1/recordings/{rec_id}").json())


def rms_per_second(path: Path, channel: int) -> list[float]:
    with wave.open(str(path)) as fh:
        data = np.frombuffer(fh.readframes(fh.getnframes()), dtype=np.int16)
        channels = fh.getnchannels()
    side = data.reshape(-1, channels)[:, channel].astype(np.float64)
    return [float(np.sqrt(np.mean(side[i:i + 8000] ** 2))) for i in range(0, len(side), 8000)]


def test_the_callers_side_of_the_recording_is_what_the_caller_said(
        platform: Platform, tmp_path: Path) -> None:
    number = agent(platform, "7701", "ticket:5")
    proc = phone(platform, number, "--answer-after", "1", "--hold", "14", "--timeout", "90")
    set_state(platform, number, "ready")
    summary = platform.call("--dtmf", "0" + SECONDS_TO_CONNECT, "--speech",
                            str(SPEECH / "ulaw8k" / CLIP), "--hold", "30")
    assert phone_result(proc)["ok"]
    rec = recording_of(platform, summary["call_id"])
    assert rec["status"] == "ready" and rec["channels"] == 2 and rec["sample_rate"] == 8000
    assert rec["agents"] == [number] and rec["segments"][0]["agent"] == number
    assert rec["duration_seconds"] > 10 and len(rec["sha256"]) == 64

    out = hotline(platform, "recordings", "verify", "--json")
    assert out.returncode == 0, out.stdout + out.stderr
    report = json.loads(out.stdout)
    assert report["ok"] == report["checked"] >= 1 and not report["bad"]

    caller = tmp_path / "caller.wav"
    out = hotline(platform, "recordings", "export", summary["call_id"], "--channel", "caller",
                  "-o", str(caller))
    assert out.returncode == 0, out.stderr
    heard = hotline(platform, "asr", "classify", str(caller))
    assert json.loads(heard.stdout.strip().splitlines()[-1])["intent"] == "ticket_query"
    agent_side = tmp_path / "agent.wav"
    assert hotline(platform, "recordings", "export", summary["call_id"], "--channel", "agent",
                   "-o", str(agent_side)).returncode == 0
    # The clip is on the caller's side only, not mixed into the agent's.
    assert max(rms_per_second(caller, 0)) > 500
    with wave.open(str(agent_side)) as fh:
        assert fh.getnchannels() == 1
    missing = hotline(platform, "recordings", "export", "no-such-call", "-o",
                      str(tmp_path / "x.wav"))
    assert missing.returncode == 1 and "no call" in missing.stderr

    # Audio with HTTP Range, for the people allowed, and every access audited.
    url = f"{platform.api}/api/v1/recordings/{rec['id']}/audio"
    own = {"Authorization": f"Bearer {token_of(platform, number)}"}
    part = httpx.get(url, headers={**own, "Range": "bytes=0-99"}, timeout=10)
    assert part.status_code == 206 and len(part.content) == 100
    assert part.content[:4] == b"RIFF" and part.headers["content-type"] == "audio/wav"
    other = agent(platform, "7702", "ticket:5")
    theirs = {"Authorization": f"Bearer {token_of(platform, other)}"}
    assert httpx.get(url, headers=theirs, timeout=10).status_code == 403
    listed = httpx.get(f"{platform.api}/api/v1/recordings", headers=theirs, timeout=10).json()
    assert rec["id"] not in [r["id"] for r in listed["items"]]
    assert platform.get(f"/api/v1/recordings/{rec['id']}/audio").status_code == 200
    admin = hotline(platform, "users", "create", "it-admin", "--role", "admin", "--token")
    token = admin.stdout.strip().splitlines()[-1] if admin.returncode == 0 else \
        token_of(platform, "it-admin")
    trail = httpx.get(f"{platform.api}/api/v1/recordings/access",
                      params={"recording_id": rec["id"]},
                      headers={"Authorization": f"Bearer {token}"}, timeout=10).json()
    actions = [(a["actor"], a["action"]) for a in trail]
    assert (number, "listen") in actions and ("it-supervisor", "listen") in actions
    assert all(actor != other for actor, _ in actions)


def test_a_paused_span_is_silence_and_listed(platform: Platform) -> None:
    number = agent(platform, "7703", "ticket:5")
    proc = phone(platform, number, "--answer-after", "1", "--hold", "16", "--talk",
                 str(SPEECH / "ulaw8k" / "001.wav"), "--timeout", "90")
    set_state(platform, number, "ready")
    token = token_of(platform, number)
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        future = pool.submit(platform.call, "--dtmf", "0" + SECONDS_TO_CONNECT, "--speech",
                             str(SPEECH / "ulaw8k" / CLIP), "--speech",
                             str(SPEECH / "ulaw8k" / CLIP), "--hold", "30")
        wait_for(lambda: agent_view(platform, number)["state"] == "on_call", 40, "talking")
        [call_id] = live_ids(platform).values()
        control = f"{platform.api}/api/v1/calls/{call_id}/recording"
        headers = {"Authorization": f"Bearer {token}"}
        stranger = token_of(platform, agent(platform, "7704", "ticket:5"))
        assert httpx.post(f"{control}/pause", headers={"Authorization": f"Bearer {stranger}"},
                          timeout=10).status_code == 403
        paused = httpx.post(f"{control}/pause", headers=headers, timeout=10)
        assert paused.status_code == 200 and paused.json()["paused"] is True
        wait_for(lambda: len(rows(platform, "select 1 from recording_access where action = "
                                  "'pause'")) > 0, 5, "pause audited")
        time.sleep(4)
        resumed = httpx.post(f"{control}/resume", headers=headers, timeout=10)
        assert resumed.status_code == 200
        [(start, end)] = resumed.json()["pauses"]
        assert end - start >= 3.5
        summary = future.result(timeout=120)
    assert phone_result(proc)["ok"]
    rec = recording_of(platform, summary["call_id"])
    assert rec["pauses"] == [[start, end]]
    [(path,)] = rows(platform, "select path from recordings where id = ?", rec["id"])
    wav = platform.settings.state_dir / "recordings" / path
    for side in (0, 1):
        levels = rms_per_second(wav, side)
        inside = levels[int(start) + 1:int(end)]
        assert inside and max(inside) == 0.0, (side, levels)  # muted: true silence
    # Outside the pause both sides carry sound (the agent's phone always sends some).
    assert max(rms_per_second(wav, 1)) > 100
    closed = httpx.post(f"{control}/pause", headers=headers, timeout=10)
    assert closed.status_code in (403, 409)  # the call is over


def test_a_recording_survives_the_platform_being_killed_mid_call(
        platform: Platform) -> None:
    number = agent(platform, "7705", "ticket:5")
    proc = phone(platform, number, "--answer-after", "1", "--timeout", "180")
    set_state(platform, number, "ready")
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        future = pool.submit(platform.call, "--dtmf", "0", "--hold", "40")
        wait_for(lambda: agent_view(platform, number)["state"] == "on_call", 40, "talking")
        # The agent is on the call as it answers; the talk and its recording come just after:
        # killed before them, there would be no recording to survive.
        wait_for(lambda: rows(platform, "select 1 from recordings where status = 'recording'"),
                 30, "the recording under way")
        assert platform.proc is not None
        platform.proc.send_signal(signal.SIGKILL)
        platform.proc.wait()
        start_serve(platform)
        summary = future.result(timeout=150)
    phone_result(proc, timeout=60)
    # The call may have ended before the platform was back: `hotline call` then has no id
    # for it, and the platform's history is asked now.
    call_id = summary["call_id"] or call_id_of(platform, summary["sip_call_id"])
    # Finalised by the adopted call's task, or by the next sweep when the call ended first.
    rec = recording_of(platform, call_id, timeout=60)
    assert rec["status"] == "ready" and rec["duration_seconds"] > 20  # across the restart
    out = hotline(platform, "recordings", "verify", "--json")
    assert out.returncode == 0 and not json.loads(out.stdout)["bad"], out.stdout
