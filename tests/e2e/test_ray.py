"""Ducks on a Ray cluster: a real Catchment with ``DUCKSTRING_LAUNCHER=ray`` against a
``ray.cluster_utils.Cluster`` on this machine (a head of 0 CPUs and two nodes of one CPU, each
with a custom resource of its own), the demo placed across the two nodes.

Every node binds this machine's own address: a cluster forced onto 127.0.0.1 here leaves its
drivers waiting for a GCS they look for at the machine's address. The Catchment and its Ducks
still talk over 127.0.0.1."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from e2e.server import Server, wait_until
from e2e.test_catchment_demo import deploy_demo, runs, status_of

ray = pytest.importorskip("ray")
cluster_utils = pytest.importorskip("ray.cluster_utils")

pytestmark = pytest.mark.ray

#: Quiet, local and quick to notice a node that left.
HEAD = {
    "num_cpus": 0,
    "include_dashboard": False,
    "_system_config": {
        "health_check_initial_delay_ms": 0,
        "health_check_period_ms": 500,
        "health_check_failure_threshold": 3,
    },
}


@pytest.fixture
def cluster(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    monkeypatch.setenv("RAY_USAGE_STATS_ENABLED", "0")
    made = cluster_utils.Cluster(initialize_head=True, head_node_args=HEAD)
    made.nodes_by_name = {
        name: made.add_node(num_cpus=1, resources={name: 1}) for name in ("zone_a", "zone_b")
    }
    made.wait_for_nodes()
    ray.init(address=made.address, namespace="duckstring-tests", log_to_driver=False)
    try:
        yield made
    finally:
        ray.shutdown()
        made.shutdown()


def ray_server(tmp_path: Path, cluster: Any, **env: str) -> Server:
    return Server(
        root=tmp_path / "root",
        home=tmp_path / "home",
        env={
            "DUCKSTRING_LAUNCHER": "ray",
            "DUCKSTRING_RAY_ADDRESS": cluster.address,
            "RAY_USAGE_STATS_ENABLED": "0",
            **env,
        },
    )


def node_id(cluster: Any, name: str) -> str:
    return str(cluster.nodes_by_name[name].node_id)


def actors() -> dict[str, str]:
    """The live Duck actors: name -> the id of the node each says it runs on."""
    found = {}
    for entry in ray.util.list_named_actors(all_namespaces=True):
        if entry["namespace"] != "duckstring" or not entry["name"].startswith("duck:"):
            continue
        try:
            actor = ray.get_actor(entry["name"], namespace="duckstring")
            found[entry["name"]] = ray.get(actor.where.remote(), timeout=10)["id"]
        except (ValueError, ray.exceptions.RayError):
            continue  # it ended meanwhile
    return found


def place(server: Server, pond: str, *args: str) -> str:
    return server.cli("control", "placement", pond, *args).stdout


def test_the_demo_runs_on_two_nodes_as_placed(tmp_path: Path, cluster: Any) -> None:
    server = ray_server(tmp_path, cluster).start(timeout=60)
    try:
        deploy_demo(server)
        out = place(server, "sales", "--resource", "zone_a=1", "--cpus", "0.5")
        assert "zone_a=1" in out and "0.5 CPU" in out, out
        place(server, "reports", "--resource", "zone_b=1")
        out = server.cli("trigger", "pulse", "reports")
        assert "settled" in out.stdout
        with server.client() as client:
            history = runs(client)
            assert all(r["status"] == "success" for r in history), history
            assert {r["pond"] for r in history} == {"transactions", "products", "sales", "reports"}
            rows = client.post(
                "/query",
                json={"pond": "reports", "sql": "SELECT count(*) AS n FROM monthly_summary"},
            )
            assert rows.status_code == 200 and rows.json()[0]["n"] > 0, rows.text
            status = status_of(client)
            placed = {line: (status[line]["node"] or {}).get("id") for line in status}
            assert placed["sales@1"] == node_id(cluster, "zone_a")
            assert placed["reports@1"] == node_id(cluster, "zone_b")
            answer = client.get("/ponds/sales/placement").json()
            assert answer["launcher"] == "ray"
            assert answer["resources"] == {"zone_a": 1.0} and answer["cpus"] == 0.5
            metrics = server.client().get(f"{server.url}/metrics").text
            assert f'line="sales@1",node="{node_id(cluster, "zone_a")}"' in metrics
        names = actors()
        sales = f"duck:{catchment_id(server)}:sales@1"
        assert names[sales] == node_id(cluster, "zone_a")
        # kill kills the actor.
        server.cli("control", "kill", "sales")
        wait_until(lambda: sales not in actors(), 20)
    finally:
        server.close()
    wait_until(lambda: not actors(), 20)


def catchment_id(server: Server) -> str:
    import sqlite3

    con = sqlite3.connect(server.root / "duck.db")
    try:
        return str(con.execute("SELECT value FROM catchment_meta WHERE key = 'id'").fetchone()[0])
    finally:
        con.close()


def test_a_placement_no_node_can_hold_fails_the_run_naming_the_resource(
    tmp_path: Path, cluster: Any
) -> None:
    server = ray_server(tmp_path, cluster).start(timeout=60)
    try:
        deploy_demo(server)
        place(server, "sales", "--resource", "gpu_box=1")
        server.cli("trigger", "pulse", "reports", check=False)
        with server.client() as client:
            failed = wait_until(
                lambda: [
                    r for r in runs(client, pond="sales", lineage=False) if r["status"] == "failed"
                ],
                30,
            )
            assert "gpu_box" in failed[0]["error"], failed[0]
            assert "no alive node offers" in failed[0]["error"], failed[0]
            assert status_of(client)["sales@1"]["status"] == "failed"
    finally:
        server.close()


def test_a_node_that_leaves_fails_its_run_naming_the_node_and_the_next_runs_elsewhere(
    tmp_path: Path, cluster: Any
) -> None:
    # sales, the demo's bottleneck, runs ~5 s: long enough to lose its node under it.
    server = ray_server(tmp_path, cluster).start(timeout=60)
    try:
        deploy_demo(server)
        place(server, "sales", "--resource", "zone_a=1")
        with server.client() as client:
            client.post("/ponds/reports/tap", json={})
            wait_until(lambda: status_of(client)["sales@1"]["status"] == "running", 60)
            wait_until(lambda: status_of(client)["sales@1"]["node"] is not None, 30)
            lost = node_id(cluster, "zone_a")
            cluster.remove_node(cluster.nodes_by_name["zone_a"])
            failed = wait_until(
                lambda: [
                    r for r in runs(client, pond="sales", lineage=False) if r["status"] == "failed"
                ],
                60,
            )
            error = failed[0]["error"]
            assert lost[:12] in error and "left the Ray cluster" in error, error
            # The operator moves the line; its next run completes on the other node.
            place(server, "sales", "--resource", "zone_b=1")
            client.post("/ponds/sales/clear")
            client.post("/ponds/reports/tap", json={})
            wait_until(lambda: status_of(client)["reports@1"]["runs_completed"] >= 1, 90)
            assert status_of(client)["sales@1"]["node"]["id"] == node_id(cluster, "zone_b")
    finally:
        server.close()


def test_a_restarted_catchment_adopts_the_running_actors(tmp_path: Path, cluster: Any) -> None:
    server = ray_server(tmp_path, cluster).start(timeout=60)
    try:
        deploy_demo(server)
        with server.client() as client:
            client.post("/ponds/reports/tap", json={})
            wait_until(lambda: status_of(client)["sales@1"]["status"] == "running", 60)
        before = actors()
        assert any(name.endswith(":sales@1") for name in before)
        os.kill(server.pid, signal.SIGKILL)
        server.process.wait(10)
        server.start(timeout=60)
        with server.client() as client:
            # The pull settles (a Source that ran again meanwhile may take sales round again).
            wait_until(lambda: status_of(client)["reports@1"]["runs_completed"] >= 1, 90)
            wait_until(lambda: all(p["status"] == "idle" for p in status_of(client).values()), 90)
            history = runs(client, pond="sales", lineage=False)
            assert [r["status"] for r in history] == ["success"] * len(history), history
            assert history[-1]["seq"] == 1  # the run in flight across the restart completed
        after = actors()
        lines = [name.rsplit(":", 1)[1] for name in after]
        assert len(lines) == len(set(lines)), after  # one actor per line
        sales = next(name for name in before if name.endswith(":sales@1"))
        assert sales not in after or after[sales] == before[sales]
    finally:
        server.close()


def test_a_duck_no_node_has_room_for_fails_its_run_saying_it_was_not_placed(
    tmp_path: Path, cluster: Any
) -> None:
    # Both Inlets ask for zone_a's one CPU, and each runs 5 s or more: the second waits for
    # a node longer than the 4 s of silence a Duck is allowed.
    server = ray_server(
        tmp_path,
        cluster,
        DUCKSTRING_DEMO_SCALE="5",
        DUCKSTRING_DUCK_SILENCE="4",
        DUCKSTRING_DUCK_HEARTBEAT="1",
    ).start(timeout=60)
    try:
        deploy_demo(server)
        for pond in ("transactions", "products"):
            place(server, pond, "--resource", "zone_a=1", "--cpus", "1")
        with server.client() as client:
            client.post("/ponds/reports/tap", json={})
            failed = wait_until(lambda: [r for r in runs(client) if r["status"] == "failed"], 60)
            error = failed[0]["error"]
            assert failed[0]["pond"] in ("transactions", "products")
            assert "was not placed within 4 s" in error and "1 CPU, zone_a=1" in error, error
    finally:
        server.close()


def test_an_idle_duck_gives_way_to_one_that_waits_for_its_node(
    tmp_path: Path, cluster: Any
) -> None:
    # transactions' Duck, idle once it ran, holds zone_a's one CPU that sales asks for too.
    server = ray_server(tmp_path, cluster).start(timeout=60)
    try:
        deploy_demo(server)
        for pond in ("transactions", "sales"):
            place(server, pond, "--resource", "zone_a=1", "--cpus", "1")
        out = server.cli("trigger", "pulse", "reports")
        assert "settled" in out.stdout
        with server.client() as client:
            history = runs(client)
            assert [r["status"] for r in history] == ["success"] * 4, history
            assert status_of(client)["sales@1"]["node"]["id"] == node_id(cluster, "zone_a")
    finally:
        server.close()
