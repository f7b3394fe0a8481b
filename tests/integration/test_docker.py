"""The production node (docker/): its images built from nothing (docker/build.sh), the stack
up under a compose project of its own, a real SIP call through it to the IVR, and nothing
left of the project after `docker-compose down -v`."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import httpx
import pytest

# One worker runs the module: the images are built once, the stack is brought up once.
pytestmark = pytest.mark.xdist_group("docker")

REPO = Path(__file__).resolve().parents[2]
COMPOSE_FILE = REPO / "docker" / "compose.yaml"
# The test node's ports: apart from the tests' instances (15010-18383, RTP 21000-29999),
# from `make docker-up`'s node (25060, 28088, ..., RTP 30000-31999) and below the kernel's
# ephemeral ports (32768-), where SIPp's own ports come from.
PORTS = {"SIP_PORT": 26060, "ARI_PORT": 29088, "AMI_PORT": 26038, "API_PORT": 29080,
         "AGI_PORT": 29083, "PASSENGER_PORT": 26080, "PG_PORT": 26432,
         "RTP_START": 32000, "RTP_END": 32399}
BUILD_TIMEOUT = 3600  # a cold build: debootstrap of two roots, Asterisk, PostgreSQL, the app
UP_TIMEOUT = 900
WELCOME = "sound:/var/lib/asterisk/sounds/hotline/zh/welcome"


def docker_answers() -> str | None:
    """None when the docker daemon answers, else why not."""
    if shutil.which("docker") is None or shutil.which("docker-compose") is None:
        return "docker or docker-compose is not installed (make setup installs docker.io and " \
               "docker-compose)"
    try:
        out = subprocess.run(["docker", "info", "--format", "{{.ServerVersion}}"],
                             capture_output=True, text=True, timeout=30)
    except subprocess.TimeoutExpired:
        return "`docker info` did not answer within 30 s"
    if out.returncode != 0:
        return f"the docker daemon does not answer ({out.stderr.strip()[-300:]}); make setup " \
               "starts dockerd, which needs root and a kernel with overlayfs and cgroups"
    return None


@pytest.fixture(scope="session")
def docker_images() -> float:
    """The node's images, built (or found up to date) once per run; the build's seconds."""
    problem = docker_answers()
    if problem:
        pytest.fail(f"the docker node cannot be tested here: {problem}")
    start = time.monotonic()
    out = subprocess.run(["bash", str(REPO / "docker" / "build.sh")], capture_output=True,
                         text=True, timeout=BUILD_TIMEOUT, cwd=REPO)
    assert out.returncode == 0, f"docker/build.sh failed:\n{(out.stdout + out.stderr)[-4000:]}"
    return time.monotonic() - start


@dataclass
class Node:
    project: str
    env: dict[str, str]
    down_done: bool = False

    @property
    def api(self) -> str:
        return f"http://127.0.0.1:{PORTS['API_PORT']}"

    def compose(self, *args: str, timeout: float = 120,
                check: bool = True) -> subprocess.CompletedProcess[str]:
        out = subprocess.run(["docker-compose", "-p", self.project, "-f", str(COMPOSE_FILE),
                              *args], capture_output=True, text=True, timeout=timeout,
                             env=self.env, cwd=REPO)
        if check:
            assert out.returncode == 0, \
                f"docker-compose {' '.join(args)} failed:\n{out.stdout[-2000:]}{out.stderr[-3000:]}"
        return out

    def exec(self, service: str, *cmd: str, timeout: float = 60) -> str:
        return self.compose("exec", "-T", service, *cmd, timeout=timeout).stdout

    def logs(self, *services: str, tail: int = 60) -> str:
        out = self.compose("logs", "--no-color", "--tail", str(tail), *services, check=False)
        return out.stdout + out.stderr

    def healthz(self) -> int:
        try:
            return httpx.get(self.api + "/healthz", timeout=5).status_code
        except httpx.HTTPError:
            return 0

    def leftovers(self) -> dict[str, list[str]]:
        label = f"label=com.docker.compose.project={self.project}"
        found = {}
        for kind, cmd in (("containers", ["docker", "ps", "-a", "-q"]),
                          ("networks", ["docker", "network", "ls", "-q"]),
                          ("volumes", ["docker", "volume", "ls", "-q"])):
            out = subprocess.run([*cmd, "--filter", label], capture_output=True, text=True,
                                 timeout=60, check=True)
            found[kind] = out.stdout.split()
        return found

    def down(self) -> None:
        self.compose("down", "-v", "--remove-orphans", "--timeout", "20", timeout=300)
        self.down_done = True


@pytest.fixture(scope="module")
def node(docker_images: float) -> Iterator[Node]:
    """The stack up under a compose project of its own, with its own ports and secrets."""
    project = f"hotline-test-{uuid.uuid4().hex[:8]}"
    # The compose file reads only HOTLINE_DOCKER_* and the three secrets; the tests' own
    # HOTLINE_* settings stay out.
    env = {k: v for k, v in os.environ.items() if not k.startswith("HOTLINE_")}
    env |= {f"HOTLINE_DOCKER_{name}": str(value) for name, value in PORTS.items()}
    env |= {"HOTLINE_ARI_PASSWORD": uuid.uuid4().hex, "HOTLINE_AMI_SECRET": uuid.uuid4().hex,
            "HOTLINE_DB_PASSWORD": uuid.uuid4().hex}
    plat = Node(project, env)
    try:
        start = time.monotonic()
        up = plat.compose("up", "-d", timeout=UP_TIMEOUT, check=False)
        assert up.returncode == 0, \
            f"docker-compose up failed:\n{up.stderr[-3000:]}\n{plat.logs('init', 'asterisk')}"
        deadline = time.monotonic() + UP_TIMEOUT
        while plat.healthz() != 200:
            assert time.monotonic() < deadline, \
                f"the app is not healthy within {UP_TIMEOUT} s:\n{plat.logs('app', 'asterisk')}"
            time.sleep(1)
        print(f"docker node: images {docker_images:.0f} s, up and healthy "
              f"{time.monotonic() - start:.0f} s")
        yield plat
    finally:
        if not plat.down_done:
            plat.down()


def test_a_call_through_the_node_reaches_the_ivr_and_is_recorded(node: Node) -> None:
    assert node.healthz() == 200
    health = httpx.get(node.api + "/healthz", timeout=5).json()
    assert health["database"] == {"connected": True, "engine": "postgresql"}, health
    assert health["speech"]["enabled"], "the image's speech model loaded"
    # The prompts the init service built are where the PBX plays them from.
    node.exec("asterisk", "test", "-s", "/var/lib/asterisk/sounds/hotline/zh/welcome.wav")
    token = node.exec("app", "hotline", "users", "create", "docker-test", "--role",
                      "supervisor", "--token").strip().splitlines()[-1]
    # A caller on the node's SIP port: the welcome, then 9 (English) in the main menu.
    out = subprocess.run(
        [sys.executable, "-m", "app.cli", "call", "--pbx", f"127.0.0.1:{PORTS['SIP_PORT']}",
         "--api", node.api, "--to", "12306", "--dtmf", ",,,,,,9", "--hold", "4"],
        capture_output=True, text=True, timeout=120, cwd=REPO,
        env={**os.environ, "HOTLINE_API_TOKEN": token})
    assert out.stdout.strip(), f"hotline call printed nothing: {out.stderr[-2000:]}"
    summary = json.loads(out.stdout.strip().splitlines()[-1])
    assert summary["ok"] and summary["answered"] and summary["final_response"] == 200, summary
    assert summary["call_id"], "the call's record was found through the node's API"
    headers = {"Authorization": f"Bearer {token}"}
    deadline = time.monotonic() + 30
    while True:
        page = httpx.get(node.api + "/api/v1/calls", params={"sip_call_id": summary["sip_call_id"]},
                         headers=headers, timeout=5).json()
        items = page.get("items", [])
        if items and items[0]["ended_at"]:
            break
        assert time.monotonic() < deadline, f"no finished call record: {page}"
        time.sleep(0.5)
    record = httpx.get(f"{node.api}/api/v1/calls/{items[0]['id']}", headers=headers,
                       timeout=5).json()
    prompts = [s["detail"]["prompt"] for s in record["steps"] if s["kind"] == "prompt"]
    assert prompts[:1] == ["welcome"] and "main_menu" in prompts, record["steps"]
    assert record["language"] == "en", "the key 9 reached the IVR through the PBX"
    # The welcome was heard to its end: the PBX found the prompt the init service built.
    at = {s["kind"]: datetime.fromisoformat(s["at"]) for s in record["steps"]
          if s["detail"].get("media") == WELCOME}
    assert (at["played"] - at["play_started"]).total_seconds() > 2, record["steps"]
    # Asterisk logs to stdout.
    assert "Asterisk Ready." in node.logs("asterisk", tail=1000)


def test_down_leaves_no_container_network_or_volume(node: Node) -> None:
    assert node.leftovers()["volumes"], "the project's volumes exist while it is up"
    node.down()
    assert node.leftovers() == {"containers": [], "networks": [], "volumes": []}
