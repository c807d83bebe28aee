"""Crashes and restarts with real processes: nothing lost, nothing redone, one Duck per line."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path
from typing import Any

import httpx

from e2e.projects import write_pond
from e2e.server import Server, duck_pids, status_of, zombies

#: Each Ripple records its call in calls.log (beside the root), so a re-run is visible.
TRACED = """
import os, time
from pathlib import Path

def _trace(pond, ripple):
    log = Path(pond.root).parent / "calls.log"
    with open(log, "a") as handle:
        handle.write(f"{{pond.name}}.{{ripple}}\\n")

@ripple
def first(pond):
    _trace(pond, "first")
    pond.write_table("first", pond.con.sql("SELECT 1 AS x"))

@ripple(parents=[first])
def slow(pond):
    time.sleep({slow})
    _trace(pond, "slow")
    pond.write_table("slow", pond.read_table("first"))

@ripple(parents=[slow])
def last(pond):
    _trace(pond, "last")
    pond.write_table("last", pond.read_table("slow"))
"""


def calls(server: Server) -> list[str]:
    log = server.root.parent / "calls.log"
    return log.read_text().split() if log.exists() else []


def successes(client: httpx.Client, pond: str) -> list[dict[str, Any]]:
    runs = client.get(
        "/runs", params={"pond": pond, "lineage": False, "ripples": True, "limit": 1000}
    ).json()["runs"]
    return [a for r in runs for a in r["ripples"] if a["status"] == "success"]


def test_sigkill_mid_run_then_restart_loses_nothing_and_reruns_nothing(
    server: Server, tmp_path: Path
) -> None:
    server.connect_cli()
    server.cli(
        "pond",
        "deploy",
        "-y",
        cwd=write_pond(tmp_path, "work", TRACED.format(slow=2), kind="inlet"),
    )
    with server.client() as client:
        client.post("/ponds/work/wave")
        server.wait_for(
            lambda c: (
                "work.first" in calls(server) and status_of(c, "work@1")["status"] == "running"
            ),
            what="a run mid-way",
        )
    before = duck_pids(server.root)
    assert len(before.get("work", [])) == 1
    server.stop(signal.SIGKILL)
    # The Duck keeps working through the outage and buffers its events.
    deadline = time.monotonic() + 20
    while "work.last" not in calls(server) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert "work.last" in calls(server), "the Duck finished its run while the server was down"
    assert duck_pids(server.root)["work"] == before["work"]
    server.start()
    server.wait_for(
        lambda c: status_of(c, "work@1")["runs_completed"] >= 3,
        timeout=60,
        what="the Wave to go on after the restart",
    )
    with server.client() as client:
        client.post("/ponds/work/untrigger")
        server.wait_for(
            lambda c: status_of(c, "work@1")["status"] == "idle",
            timeout=60,
            what="the line to settle",
        )
        runs = client.get("/runs", params={"pond": "work", "limit": 1000}).json()["runs"]
        assert runs and all(r["status"] == "success" for r in runs), runs
        seqs = sorted(r["seq"] for r in runs)
        assert seqs == list(range(1, len(seqs) + 1)), "history is continuous"
        done = successes(client, "work")
    made = calls(server)
    for ripple in ("first", "slow", "last"):
        # Every call of a Ripple is one recorded success: nothing ran twice.
        assert made.count(f"work.{ripple}") == sum(1 for a in done if a["ripple"] == ripple)
    holders = duck_pids(server.root)
    assert len(holders.get("work", [])) <= 1
    assert holders.get("work", before["work"]) == before["work"], "the old Duck was adopted"


def test_sigkill_of_a_duck_fails_its_run_with_a_message(server: Server, tmp_path: Path) -> None:
    server.connect_cli()
    server.cli(
        "pond",
        "deploy",
        "-y",
        cwd=write_pond(tmp_path, "work", TRACED.format(slow=5), kind="inlet"),
    )
    with server.client() as client:
        client.post("/ponds/work/tap")
        server.wait_for(lambda c: "work.first" in calls(server), what="the run to start")
        pid = duck_pids(server.root)["work"][0]
        os.kill(pid, signal.SIGKILL)
        server.wait_for(
            lambda c: status_of(c, "work@1")["status"] == "failed", what="the run to fail"
        )
        run = client.get("/runs", params={"pond": "work"}).json()["runs"][0]
        assert run["status"] == "failed" and "killed by signal 9" in run["error"]
        assert status_of(client, "work@1")["failures"] == 1
    assert not [p for p in zombies() if p in duck_pids(server.root).get("work", [])]


def test_a_hung_duck_is_failed_after_the_silence_timeout(tmp_path: Path) -> None:
    server = Server(
        root=tmp_path / "root",
        home=tmp_path / "home",
        env={"DUCKSTRING_DUCK_SILENCE": "2", "DUCKSTRING_DUCK_HEARTBEAT": "0.5"},
    )
    server.start()
    try:
        server.connect_cli()
        server.cli(
            "pond",
            "deploy",
            "-y",
            cwd=write_pond(tmp_path, "work", TRACED.format(slow=30), kind="inlet"),
        )
        with server.client() as client:
            client.post("/ponds/work/tap")
            server.wait_for(lambda c: "work.first" in calls(server), what="the run to start")
            pid = duck_pids(server.root)["work"][0]
            os.kill(pid, signal.SIGSTOP)
            server.wait_for(
                lambda c: status_of(c, "work@1")["status"] == "failed",
                timeout=30,
                what="the silent Duck's run to fail",
            )
            run = client.get("/runs", params={"pond": "work"}).json()["runs"][0]
            assert "silent" in run["error"]
    finally:
        server.close()


def test_a_second_catchment_on_the_same_root_refuses_to_start(
    server: Server, tmp_path: Path
) -> None:
    second = Server(root=server.root, home=tmp_path / "home2")
    try:
        second.start(timeout=15)
    except RuntimeError as error:
        assert "already serves" in str(error)
    else:
        second.stop()
        raise AssertionError("a second Catchment started on a root that is served")
    with server.client() as client:
        assert client.get("/health").json() == {"status": "ok"}
