"""Integration fixtures: the real sandbox Asterisk and a real `hotline serve` process."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from app.config import Settings
from app.pbx import sandbox

API_PORT = int(os.environ["HOTLINE_API_PORT"])  # the test instance's (tests/instance.py)


@dataclass
class Platform:
    settings: Settings
    api: str
    log: Path
    proc: subprocess.Popen[bytes] | None
    supervisor_token: str | None = None
    # Settings of `hotline serve` a test module changes (restart_serve applies them).
    serve_settings: dict[str, str] = field(default_factory=dict)

    def get(self, path: str, **params: Any) -> httpx.Response:
        # The local engineer token reads live calls; stored records need supervisor or QA.
        token = self.supervisor_token or self.settings.local_token_file.read_text().strip()
        return httpx.get(self.api + path, params=params, timeout=5,
                         headers={"Authorization": f"Bearer {token}"})

    def health(self) -> int:
        try:
            return httpx.get(self.api + "/healthz", timeout=5).status_code
        except httpx.HTTPError:
            return 0

    def call(self, *args: str, timeout: float = 120) -> dict[str, Any]:
        """Place a real SIP call with `hotline call` and return its JSON summary."""
        out = subprocess.run(
            [sys.executable, "-m", "app.cli", "call", "--api", self.api, *args],
            capture_output=True, text=True, timeout=timeout, env=self.env(),
        )
        assert out.stdout.strip(), f"hotline call printed nothing: {out.stderr}"
        summary: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
        return summary

    def call_now(self, *args: str) -> dict[str, Any]:
        """The same call placed from this process: no interpreter to start first, so it
        dials at once, even on a loaded machine (for a call that must arrive in a window)."""
        from app.callgen.runner import place_calls
        from app.cli import build_parser

        return place_calls(build_parser().parse_args(["call", "--api", self.api, *args]),
                           self.settings)

    def trace(self, sip_call_id: str, timeout: float = 10) -> dict[str, Any]:
        """The platform's record of a finished call."""
        deadline = time.monotonic() + timeout
        while True:
            found = self.get("/api/v1/calls/recent", sip_call_id=sip_call_id).json()
            if found and not found[0]["active"]:
                return dict(found[0])
            assert time.monotonic() < deadline, f"call {sip_call_id} not finished: {found}"
            time.sleep(0.1)

    def record(self, sip_call_id: str, timeout: float = 20) -> dict[str, Any]:
        """The stored call record (GET /api/v1/calls), once the call has ended."""
        deadline = time.monotonic() + timeout
        while True:
            page = self.get("/api/v1/calls", sip_call_id=sip_call_id).json()
            items = page.get("items", [])
            if items and items[0]["ended_at"]:
                return dict(self.get(f"/api/v1/calls/{items[0]['id']}").json())
            assert time.monotonic() < deadline, f"no finished record for {sip_call_id}: {page}"
            time.sleep(0.2)

    @property
    def db_url(self) -> str:
        return f"sqlite:///{self.log.parent / 'hotline.db'}"

    def channels(self) -> int:
        text = sandbox.cli(self.settings, "core show channels count")
        line = next(ln for ln in text.splitlines() if "active channel" in ln)
        return int(line.split()[0])

    def bridges(self) -> int:
        text = sandbox.cli(self.settings, "bridge show all")
        return sum(1 for ln in text.splitlines() if re.match(r"[0-9a-f-]{36}\s", ln))

    def env(self) -> dict[str, str]:
        return {**os.environ, "HOTLINE_API_PORT": str(API_PORT),
                "HOTLINE_DATABASE_URL": f"sqlite:///{self.log.parent / 'hotline.db'}"}


def wait_for(check: Any, timeout: float, what: str) -> float:
    start = time.monotonic()
    while not check():
        if time.monotonic() - start > timeout:
            raise AssertionError(f"{what} not within {timeout} s")
        time.sleep(0.1)
    return time.monotonic() - start


# A stop lets calls in progress finish for this long (tests of the drain wait it out).
DRAIN_SECONDS = 8
ASR_ANSWER_WITHIN = 6.0

# The shipped routing file with shorter timers, so tests see wrap-up end and overflow start.
FAST_TIMERS = {"wrap_up": 3, "overflow": {"after": 8}}


def fast_routing(folder: Path) -> Path:
    rules = yaml.safe_load(Settings().routing_file.read_text())
    for queue in rules["queues"].values():
        queue["wrap_up"] = FAST_TIMERS["wrap_up"]
        queue["overflow"] = {**queue.get("overflow", {}), **FAST_TIMERS["overflow"]}
    path = folder / "routing-fast.yaml"
    path.write_text(yaml.safe_dump(rules, allow_unicode=True))
    return path


@pytest.fixture(scope="session")
def pbx() -> Iterator[Settings]:
    settings = Settings()
    # The tests' own instance: one left running (an interrupted run) may have an older config.
    if sandbox.is_running(settings):
        sandbox.stop(settings)
    sandbox.start(settings)
    yield settings
    sandbox.stop(settings)


def flows_for_tests(folder: Path) -> Path:
    """The shipped flows and the tests' menu variants (tests/data/flows), in a folder of the
    run's own that tests may change and reload."""
    flows = folder / "flows"
    if not flows.exists():
        shutil.copytree(Settings().flows_dir, flows)
        for extra in (Path(__file__).parent.parent / "data" / "flows").glob("*.yaml"):
            shutil.copy(extra, flows / extra.name)
    return flows


def serve_env(log: Path, extra: dict[str, str] | None = None) -> dict[str, str]:
    return {**os.environ, **(extra or {}), "HOTLINE_API_PORT": str(API_PORT),
            "HOTLINE_DATABASE_URL": f"sqlite:///{log.parent / 'hotline.db'}",
            "HOTLINE_ROUTING_FILE": str(fast_routing(log.parent)),
            "HOTLINE_FLOWS_DIR": str(flows_for_tests(log.parent)),
            "HOTLINE_DRAIN_SECONDS": str(DRAIN_SECONDS),
            # Parallel test workers share the cores: a caller's speech may take longer to
            # decode than in production, and the tests check what was understood.
            "HOTLINE_ASR_ANSWER_WITHIN": str(ASR_ANSWER_WITHIN)}


def start_serve(plat: Platform) -> None:
    """(Re)start `hotline serve` for the platform and wait until it is healthy."""
    with open(plat.log, "ab") as fh:
        plat.proc = subprocess.Popen(
            [sys.executable, "-m", "app.cli", "serve", "--demo-data"], stdout=fh,
            stderr=subprocess.STDOUT, env=serve_env(plat.log, plat.serve_settings))
    try:
        # Speech warm-up takes most of the start; on a busy machine it passes 30 s.
        wait_for(lambda: plat.health() == 200, 420, "hotline serve healthy")
    except BaseException:
        plat.proc.kill()
        plat.proc.wait()
        raise AssertionError("serve did not start:\n" + plat.log.read_text()[-3000:]) from None


def restart_serve(plat: Platform) -> None:
    """Stop `hotline serve` cleanly (Ctrl-C) and start it again, with plat.serve_settings."""
    assert plat.proc is not None
    plat.proc.send_signal(2)
    code = plat.proc.wait(timeout=20 + DRAIN_SECONDS)
    assert code == 0, f"serve exited {code}:\n{plat.log.read_text()[-3000:]}"
    start_serve(plat)


@pytest.fixture(scope="session")
def platform(pbx: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    log = tmp_path_factory.mktemp("serve") / "serve.log"
    plat = Platform(pbx, f"http://127.0.0.1:{API_PORT}", log, None)
    start_serve(plat)
    out = subprocess.run(
        [sys.executable, "-m", "app.cli", "users", "create", "it-supervisor", "--role",
         "supervisor", "--token"], capture_output=True, text=True, env=plat.env(), check=True)
    plat.supervisor_token = out.stdout.strip().splitlines()[-1]
    yield plat
    assert plat.proc is not None
    plat.proc.send_signal(2)  # Ctrl-C
    code = plat.proc.wait(timeout=20 + DRAIN_SECONDS)
    text = log.read_text()
    assert code == 0, f"serve exited {code}:\n{text[-3000:]}"
    assert "Traceback" not in text, text[-3000:]
