"""Dialplan check before apply, reload with calls in progress, rollback (real PBX)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from app.pbx import sandbox
from tests.integration.conftest import Platform, wait_for

PBX_DIALPLANS = Path(__file__).resolve().parents[2] / "dialplans"


def hotline(platform: Platform, *args: str, dialplans: Path | None = None,
            ) -> subprocess.CompletedProcess[str]:
    env = platform.env()
    if dialplans is not None:
        env["HOTLINE_DIALPLANS_DIR"] = str(dialplans)
    return subprocess.run([sys.executable, "-m", "app.cli", *args], capture_output=True,
                          text=True, timeout=120, env=env)


def edited(tmp_path: Path, name: str, old: str, new: str) -> Path:
    folder = tmp_path / name
    shutil.copytree(PBX_DIALPLANS, folder)
    path = folder / "extensions.conf"
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))
    return folder


def line_of(folder: Path, needle: str) -> int:
    lines = (folder / "extensions.conf").read_text().splitlines()
    return next(n for n, line in enumerate(lines, start=1) if needle in line)


def test_a_broken_dialplan_is_reported_with_file_and_line_and_not_applied(
        platform: Platform, tmp_path: Path) -> None:
    broken = edited(tmp_path, "bracket", "[callback-out]", "[callback-out")
    text = (broken / "extensions.conf").read_text()
    (broken / "extensions.conf").write_text(
        text.replace("@@PASSENGER_PORT@@", "@@PASENGER_PORT@@"))
    out = hotline(platform, "dialplan", "check", str(broken))
    assert out.returncode == 1, out
    assert f"extensions.conf:{line_of(broken, '[callback-out')}: parse error: no closing ']'" \
        in out.stdout
    assert f"extensions.conf:{line_of(broken, 'PASENGER')}: unknown placeholder " \
        "@@PASENGER_PORT@@" in out.stdout

    unknown = edited(tmp_path, "app", " same => n,Dial(PJSIP", " same => n,Dail(PJSIP")
    out = hotline(platform, "dialplan", "check", str(unknown))
    assert out.returncode == 1
    assert out.stdout.splitlines() == [
        f"extensions.conf:{line_of(unknown, 'Dail(')}: unknown application Dail (this "
        "Asterisk does not have it; load its module in modules.conf?)"]

    before = sandbox.cli(platform.settings, "dialplan show")
    out = hotline(platform, "pbx", "reload", dialplans=unknown)
    assert out.returncode == 2 and "not applied" in out.stderr, out
    assert sandbox.cli(platform.settings, "dialplan show") == before

    good = hotline(platform, "dialplan", "check")
    assert good.returncode == 0 and good.stdout.startswith("dialplan ok:"), good


def agent_endpoints(platform: Platform) -> list[str]:
    text = sandbox.cli(platform.settings, "pjsip show endpoints")
    return sorted(ln.split()[1] for ln in text.splitlines()
                  if ln.strip().startswith("Endpoint:") and "agent-" in ln)


def test_a_reload_keeps_calls_in_progress_and_can_be_rolled_back(
        platform: Platform, tmp_path: Path) -> None:
    changed = edited(tmp_path, "new-line", "[callback-out]",
                     "[reload-marker]\nexten => 1,1,NoOp(new config)\n\n[callback-out]")
    agents = agent_endpoints(platform)
    pool = ThreadPoolExecutor(1)
    calls = pool.submit(platform.call, "--to", "12300", "--calls", "10", "--rate", "10",
                        "--hold", "15")
    try:
        wait_for(lambda: platform.channels() >= 10, 60, "10 calls in progress")
        out = hotline(platform, "pbx", "reload", dialplans=changed)
        assert out.returncode == 0, out
        assert "reload-marker" in sandbox.cli(platform.settings, "dialplan show reload-marker")
        assert platform.channels() >= 10, "no call dropped by the reload"
        summary = calls.result(timeout=180)
    finally:
        pool.shutdown()
    assert summary["completed"] == 10 and summary["ok"], summary
    assert agent_endpoints(platform) == agents, "the agents' accounts survive the reload"

    out = hotline(platform, "pbx", "rollback")
    assert out.returncode == 0, out
    assert "reload-marker" not in sandbox.cli(platform.settings, "dialplan show")
    assert agent_endpoints(platform) == agents
