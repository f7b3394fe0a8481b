"""A local cluster (`hotline cluster`): Kamailio in front of two media nodes, each its own
Asterisk and `hotline serve`, sharing one PostgreSQL database. Real SIP calls and a real
registering softphone go through the proxy only."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Any

import asyncpg  # type: ignore[import-untyped]
import httpx
import pytest

from app.cluster.heartbeat import BEAT_EVERY
from app.cluster.run import Cluster
from app.config import Settings
from app.pbx import sandbox
from tests.integration.conftest import fast_routing, wait_for
from tests.postgres import create_database

# One worker runs the module: the cluster is started once.
pytestmark = pytest.mark.xdist_group("cluster")

# The proxy's port and the base the nodes' ports are counted from (node k: +10·k): apart from
# the tests' instances (15010-18383), the docker test's node (26038-29088) and `make run`.
PORTS = {"sip_port": 24060, "ari_port": 27088, "ami_port": 24038, "api_port": 27080,
         "agi_port": 27083, "passenger_port": 24080, "rtp_start": 32400, "rtp_end": 32767}
PASSWORD = "cluster-pw-1"
SILENT_AFTER = 10  # seconds without a node's heartbeat before another closes its calls


@pytest.fixture(scope="module")
def cluster(postgres_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    folder = tmp_path_factory.mktemp("cluster")
    db_url = create_database(postgres_url, f"cluster_{uuid.uuid4().hex[:8]}")
    main = Settings()
    base = main.model_copy(update={"instance": "test-cluster",
                                   "state_dir": main.state_dir.parent / "test-cluster",
                                   "pbx_root": main.root, **PORTS})
    extra = {"HOTLINE_ROUTING_FILE": str(fast_routing(folder)),
             "HOTLINE_CLUSTER_SILENT_AFTER": str(SILENT_AFTER),
             # The voice is not under test here: two more TensorFlow workers would take the
             # cores the other test workers' calls need.
             "HOTLINE_TTS_ENGINE": "espeak"}
    made = Cluster(base, 2, db_url, folder, extra_env=extra)
    made.start(demo_data=True, progress=sys.stderr)
    try:
        yield made
    finally:
        made.stop()
    for node in made.nodes:
        assert node.proc is not None and node.proc.returncode == 0, node.log.read_text()[-2000:]


def proxy(cluster: Cluster) -> str:
    return f"127.0.0.1:{cluster.proxy_port}"


def hotline(cluster: Cluster, *args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    """The command line with node 1's settings (the cluster's database)."""
    return subprocess.run([sys.executable, "-m", "app.cli", *args], capture_output=True,
                          text=True, env=cluster.nodes[0].env, timeout=timeout)


def call(cluster: Cluster, *args: str) -> dict[str, Any]:
    done = hotline(cluster, "call", "--pbx", proxy(cluster), "--api", "none", *args)
    assert done.stdout.strip(), done.stderr
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def query(cluster: Cluster, sql: str, *params: Any) -> list[Any]:
    import asyncio

    async def run() -> list[Any]:
        conn = await asyncpg.connect(cluster.db_url)
        try:
            return list(await conn.fetch(sql, *params))
        finally:
            await conn.close()

    return asyncio.run(run())


def nodes_of(cluster: Cluster, sip_call_ids: list[str]) -> dict[str, int]:
    rows = query(cluster, "select node, count(*) from calls where sip_call_id = any($1) "
                          "group by node", sip_call_ids)
    return {row[0]: row[1] for row in rows}


def test_calls_through_the_proxy_are_spread_over_both_nodes(cluster: Cluster) -> None:
    summary = call(cluster, "--dtmf", "9", "--hold", "1", "--calls", "60", "--rate", "10",
                   "--timeout", "150")
    assert summary["calls"] == 60 and summary["completed"] == 60, summary
    ids = summary["sip_call_ids"]
    counts = wait_for_records(cluster, ids)
    assert set(counts) == {node.name for node in cluster.nodes}, counts
    for node, count in counts.items():
        assert count >= 0.35 * 60, (node, counts)


def wait_for_records(cluster: Cluster, ids: list[str]) -> dict[str, int]:
    counts: dict[str, int] = {}

    def all_stored() -> bool:
        counts.update(nodes_of(cluster, ids))
        return sum(counts.values()) == len(ids)

    wait_for(all_stored, 30, "every call's record")
    return counts


def test_an_agent_registered_through_the_proxy_takes_callers_of_both_nodes_one_at_a_time(
        cluster: Cluster) -> None:
    made = hotline(cluster, "agents", "create", "3101", "--name", "坐席3101", "--center", "北京",
                   "--skills", "ticket:5", "--password", PASSWORD)
    assert made.returncode == 0, made.stderr
    # Every node has the agent's endpoint within its follow interval.
    for node in cluster.nodes:
        conf = node.settings().pbx_etc / "pjsip_agents.conf"
        wait_for(lambda c=conf: c.exists() and "agent-3101" in c.read_text(), 20,
                 f"agent 3101 on {node.name}")
    phone = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "softphone", "--agent", "3101", "--password",
         PASSWORD, "--answer-after", "1", "--hold", "3", "--calls", "2", "--timeout", "120",
         "--pbx", proxy(cluster)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env=cluster.nodes[0].env)
    try:
        time.sleep(3)  # registered through the proxy (the phone's summary says it below)
        token = hotline(cluster, "users", "create", "cl-sup", "--role", "supervisor",
                        "--token").stdout.strip().splitlines()[-1]
        resp = httpx.post(f"{cluster.nodes[1].api}/api/v1/agents/3101/state",
                          json={"state": "ready"}, timeout=10,
                          headers={"Authorization": f"Bearer {token}"})
        assert resp.status_code == 200, resp.text
        # Two callers at once: round robin puts one on each node, both wait for the one agent.
        with ThreadPoolExecutor(2) as pool:
            first = pool.submit(call, cluster, "--dtmf", "0", "--hold", "45")
            time.sleep(0.3)
            second = pool.submit(call, cluster, "--dtmf", "0", "--hold", "45")
            summaries = [first.result(), second.result()]
        out, err = phone.communicate(timeout=60)
    finally:
        if phone.poll() is None:
            phone.kill()
            phone.communicate()
    taken = json.loads(out.strip().splitlines()[-1])
    ids = [s["sip_call_id"] for s in summaries]
    assert set(wait_for_records(cluster, ids)) == {n.name for n in cluster.nodes}
    legs = query(cluster, "select c.node, l.result, l.ring_at, l.end_at from agent_legs l "
                          "join calls c on c.id = l.call_id where c.sip_call_id = any($1) "
                          "order by l.ring_at", ids)
    assert taken["registered"] and taken["ok"], (out, err)
    assert [c["result"] for c in taken["calls"]] == ["answered", "answered"], (taken, legs)
    # Each node's caller was answered by the agent, and the agent was never rung for the
    # second while the first was on: one offer at a time across the nodes.
    assert sorted((row[0], row[1]) for row in legs) == sorted(
        (n.name, "answered") for n in cluster.nodes), legs
    first_end: datetime = legs[0][3]
    assert first_end is not None and legs[1][2] >= first_end, legs


def pbx(cluster: Cluster, number: int, action: str) -> None:
    node = cluster.nodes[number - 1]
    done = subprocess.run([sys.executable, "-m", "app.cli", "pbx", action], capture_output=True,
                          text=True, env=node.env, timeout=120)
    assert done.returncode == 0, done.stderr


def test_a_dead_node_is_taken_out_and_put_back_when_it_answers(cluster: Cluster) -> None:
    """Node 2's PBX killed: after detection new calls all land on node 1, none failed; once
    its PBX is started again it gets calls again."""
    # Node 2's PBX dies under load (kill -9: no goodbye to anyone); its `hotline serve` waits
    # to reconnect. Calls go on arriving meanwhile: none may fail once it is taken out.
    os.kill(int(sandbox.pid_file(cluster.nodes[1].settings()).read_text().strip()),
            signal.SIGKILL)
    try:
        time.sleep(cluster.ping_interval * 2 + 3)  # a probe and its timeout: taken out
        summary = call(cluster, "--dtmf", "9", "--hold", "1", "--calls", "10", "--rate", "5")
        assert summary["completed"] == 10, summary
        assert wait_for_records(cluster, summary["sip_call_ids"]) == {cluster.nodes[0].name: 10}
    finally:
        pbx(cluster, 2, "start")
    wait_for(cluster.nodes[1].healthy, 60, "node 2 healthy again")
    time.sleep(cluster.ping_interval * 2 + 1)  # answers its probes: put back
    summary = call(cluster, "--dtmf", "9", "--hold", "1", "--calls", "10", "--rate", "5")
    assert summary["completed"] == 10, summary
    counts = wait_for_records(cluster, summary["sip_call_ids"])
    assert set(counts) == {n.name for n in cluster.nodes}, counts


def agent_state(cluster: Cluster, token: str, number: str) -> str:
    resp = httpx.get(f"{cluster.nodes[0].api}/api/v1/agents/{number}", timeout=5,
                     headers={"Authorization": f"Bearer {token}"})
    return str(resp.json()["state"])


def test_a_node_that_dies_has_its_calls_closed_and_its_agent_freed_by_the_other(
        cluster: Cluster) -> None:
    """Node 2 dies (kill -9 of its app, then of its Asterisk: the machine went away) while its
    caller talks to an agent: node 2 falls silent, node 1 closes the call's record and queue
    entry and frees the agent, who takes node 1's next caller; node 2 is a node again once it
    is back. (A PBX that dies under a live app is handled by that app: its calls end as
    `pbx_restart` at once.)"""
    made = hotline(cluster, "agents", "create", "3102", "--name", "坐席3102", "--center", "北京",
                   "--skills", "ticket:5", "--password", PASSWORD)
    assert made.returncode == 0, made.stderr
    token = hotline(cluster, "users", "create", "cl-sup2", "--role", "supervisor",
                    "--token").stdout.strip().splitlines()[-1]
    for node in cluster.nodes:
        conf = node.settings().pbx_etc / "pjsip_agents.conf"
        wait_for(lambda c=conf: c.exists() and "agent-3102" in c.read_text(), 20,
                 f"agent 3102 on {node.name}")
    phone = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "softphone", "--agent", "3102", "--password",
         PASSWORD, "--answer-after", "1", "--calls", "2", "--timeout", "150", "--pbx",
         proxy(cluster)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env=cluster.nodes[0].env)
    second = cluster.nodes[1]
    try:
        time.sleep(3)
        resp = httpx.post(f"{cluster.nodes[0].api}/api/v1/agents/3102/state",
                          json={"state": "ready"}, timeout=10,
                          headers={"Authorization": f"Bearer {token}"})
        assert resp.status_code == 200, resp.text
        with ThreadPoolExecutor(1) as pool:
            # A caller arriving at node 2 (its own SIP port: the node is what is tested).
            doomed = pool.submit(
                lambda: hotline(cluster, "call", "--pbx", f"127.0.0.1:{second.sip_port}",
                                "--api", "none", "--dtmf", "0", "--hold", "60"))
            wait_for(lambda: agent_state(cluster, token, "3102") == "on_call", 60,
                     "agent 3102 talking with node 2's caller")
            killed = time.monotonic()
            pbx_pid = int(sandbox.pid_file(second.settings()).read_text().strip())
            assert second.proc is not None
            os.killpg(second.proc.pid, signal.SIGKILL)
            os.kill(pbx_pid, signal.SIGKILL)
            second.proc.wait(10)
            wait_for(lambda: agent_state(cluster, token, "3102") in ("ready", "wrap_up"),
                     SILENT_AFTER + 45, "agent 3102 freed by node 1")
            freed_after = time.monotonic() - killed
            doomed.result(timeout=120)
        rows = query(cluster, "select c.outcome, c.ended_by, q.result from calls c "
                              "join queue_entries q on q.call_id = c.id "
                              "where c.node = $1 and c.id in (select call_id from agent_legs "
                              "l join agents a on a.id = l.agent_id where a.number = '3102')",
                     second.name)
        # Its queue entry ended when the agent answered; the call is closed by node 1.
        assert [tuple(r) for r in rows] == [("platform_restart", "platform_restart",
                                             "connected")], rows
        closer = query(cluster, "select closed_by from platform_nodes where name = $1",
                       second.name)
        assert [r[0] for r in closer] == [cluster.nodes[0].name]
        # By node 1's watch, not by node 2 itself: silence counts from node 2's last heartbeat,
        # which came up to one beat before the kill.
        assert freed_after >= SILENT_AFTER - BEAT_EVERY
        # Freed for real: node 1's next caller is answered by the same agent.
        summary = call(cluster, "--dtmf", "0", "--hold", "15")
        assert summary["ok"], summary
        out, err = phone.communicate(timeout=60)
        taken = json.loads(out.strip().splitlines()[-1])
        assert [c["result"] for c in taken["calls"]][-1] == "answered", (taken, err)
    finally:
        if phone.poll() is None:
            phone.kill()
            phone.communicate()
        pbx(cluster, 2, "start")
        cluster.start_node(second)
        wait_for(second.healthy, 120, "node 2 healthy again")
    wait_for(lambda: not query(cluster, "select 1 from platform_nodes where name = $1 and "
                                        "closed_at is not null", second.name), 20,
             "node 2 beating again")


def test_a_node_whose_app_dies_sends_new_calls_to_the_other_and_adopts_its_callers(
        cluster: Cluster) -> None:
    """kill -9 of node 2's `hotline serve`: its PBX answers new calls with 503, which the
    proxy takes to node 1; the app started again adopts the caller left in node 2's menu."""
    second = cluster.nodes[1]
    with ThreadPoolExecutor(1) as pool:
        waiting = pool.submit(
            lambda: hotline(cluster, "call", "--pbx", f"127.0.0.1:{second.sip_port}", "--api",
                            "none", "--hold", "50"))
        time.sleep(4)  # in node 2's menu
        assert second.proc is not None
        os.killpg(second.proc.pid, signal.SIGKILL)
        second.proc.wait(10)
        summary = call(cluster, "--dtmf", "9", "--hold", "1", "--calls", "10", "--rate", "5")
        assert summary["completed"] == 10, summary
        assert wait_for_records(cluster, summary["sip_call_ids"]) == {cluster.nodes[0].name: 10}
        cluster.start_node(second)
        wait_for(second.healthy, 120, "node 2's app back")
        left = waiting.result(timeout=120)
    done = json.loads(left.stdout.strip().splitlines()[-1])
    assert done["answered"] and done["ok"], done
    rows = query(cluster, "select outcome, ended_by from calls where sip_call_id = $1",
                 done["sip_call_id"])
    # Adopted and ended by the caller: not closed as a platform failure.
    assert [tuple(r) for r in rows] == [("hung_up_in_menu", "caller")], rows
