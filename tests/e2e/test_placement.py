"""``control placement`` and ``/api/ponds/{name}/placement`` on a Catchment with the local
launcher: kept across a restart, merged by the CLI, refused whole when malformed."""

from __future__ import annotations

from e2e.server import Server
from e2e.test_catchment_demo import deploy_demo


def test_a_placement_is_kept_across_a_restart_and_the_cli_changes_only_what_it_is_given(
    server: Server,
) -> None:
    deploy_demo(server)
    out = server.cli("control", "placement", "sales").stdout
    assert "asks the default" in out and "local launcher" in out, out
    server.cli("control", "placement", "sales", "--cpus", "2", "--resource", "zone_a=1")
    out = server.cli("control", "placement", "sales", "--memory", "512MiB").stdout
    assert "2 CPU, 0.50 GiB, zone_a=1" in out, out
    server.stop()
    server.start()
    with server.client() as client:
        placed = client.get("/ponds/sales/placement").json()
        assert placed == {
            "line": "sales@1",
            "launcher": "local",
            "cpus": 2.0,
            "memory": 512 << 20,
            "resources": {"zone_a": 1.0},
            "node": None,
            "last_node": None,
        }
        assert client.get("/status").json()["ponds"][0]["node"] is None
    out = server.cli("control", "placement", "sales", "--clear").stdout
    assert "asks the default" in out, out


def test_a_bad_placement_is_refused_and_changes_nothing(server: Server) -> None:
    deploy_demo(server)
    server.cli("control", "placement", "sales", "--cpus", "1")
    bad = server.cli("control", "placement", "sales", "--resource", "CPU=4", check=False)
    assert bad.returncode != 0 and "not a custom resource" in bad.stdout + bad.stderr
    bad = server.cli("control", "placement", "sales", "--memory", "lots", check=False)
    assert bad.returncode != 0 and "memory must be a size" in bad.stdout + bad.stderr
    with server.client() as client:
        assert client.get("/ponds/sales/placement").json()["cpus"] == 1.0
        assert client.post("/ponds/sales/placement", json={"cpu": 1}).status_code == 422
        assert client.post("/ponds/nowhere/placement", json={}).status_code == 404
        assert client.get("/ponds/sales/placement").json()["resources"] == {}
