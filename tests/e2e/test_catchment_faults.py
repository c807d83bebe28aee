"""Failures, retries, blocking and recovery through a real Catchment."""

from __future__ import annotations

import os
import signal
import sqlite3
from pathlib import Path

from duckstring.duck.ledger import _MIGRATIONS
from e2e.projects import COPY_OF, COUNTER, RAISES, write_pond
from e2e.server import Server, duck_pids, status_of


def deploy(server: Server, project: Path) -> None:
    server.cli("pond", "deploy", "-y", cwd=project)


def test_a_raising_ripple_fails_its_run_retries_blocks_the_sink_and_clear_unblocks(
    server: Server, tmp_path: Path
) -> None:
    server.connect_cli()
    deploy(server, write_pond(tmp_path, "source", COUNTER, kind="inlet"))
    deploy(
        server,
        write_pond(
            tmp_path,
            "middle",
            RAISES,
            sources={"source": "1.0.0"},
            settings="immediate_retries = 1",
        ),
    )
    sink_body = COPY_OF.format(table="copy", source="middle", source_table="fragile")
    deploy(server, write_pond(tmp_path, "sink", sink_body, sources={"middle": "1.0.0"}))
    with server.client() as client:
        assert client.post("/ponds/sink/tap").json() == {"ok": True}
        server.wait_for(
            lambda c: status_of(c, "middle@1")["status"] == "failed", what="middle to fail"
        )
        runs = client.get(
            "/runs", params={"pond": "middle", "lineage": False, "ripples": True}
        ).json()["runs"]
        failed = runs[-1]
        assert failed["status"] == "failed"
        assert "ValueError: the input is broken" in failed["error"]
        assert "raise ValueError" in failed["traceback"]
        attempts = failed["ripples"]
        assert [(a["ripple"], a["retry"], a["status"]) for a in attempts] == [
            ("fragile", 0, "failed"),
            ("fragile", 1, "failed"),
        ]
        assert all("ValueError" in a["traceback"] for a in attempts)
        assert status_of(client, "sink@1")["status"] == "blocked"
        assert client.post("/ponds/middle/clear").json() == {"ok": True}
        assert not status_of(client, "sink@1")["is_blocked"]


def test_redeploying_a_fix_clears_the_failure(server: Server, tmp_path: Path) -> None:
    server.connect_cli()
    deploy(server, write_pond(tmp_path, "source", COUNTER, kind="inlet"))
    deploy(server, write_pond(tmp_path, "middle", RAISES, sources={"source": "1.0.0"}))
    with server.client() as client:
        client.post("/ponds/middle/pulse")
        server.wait_for(lambda c: status_of(c, "middle@1")["is_failed"], what="failure")
    fixed = COPY_OF.format(table="fragile", source="source", source_table="numbers")
    deploy(
        server, write_pond(tmp_path, "middle", fixed, version="1.0.1", sources={"source": "1.0.0"})
    )
    with server.client() as client:
        middle = status_of(client, "middle@1")
        assert not middle["is_failed"] and middle["version"] == "1.0.1"
        client.post("/ponds/middle/pulse")
        server.wait_for(
            lambda c: status_of(c, "middle@1")["runs_completed"] >= 1,
            what="a successful run after the fix",
        )


def test_an_optional_source_does_not_block(server: Server, tmp_path: Path) -> None:
    server.connect_cli()
    deploy(server, write_pond(tmp_path, "source", COUNTER, kind="inlet"))
    deploy(server, write_pond(tmp_path, "broken", RAISES, kind="inlet"))
    body = COPY_OF.format(table="copy", source="source", source_table="numbers")
    deploy(
        server, write_pond(tmp_path, "sink", body, sources={"source": "1.0.0", "broken": "1.0.0?"})
    )
    with server.client() as client:
        client.post("/ponds/broken/tap")
        server.wait_for(lambda c: status_of(c, "broken@1")["is_failed"], what="failure")
        client.post("/ponds/sink/pulse")
        server.wait_for(
            lambda c: status_of(c, "sink@1")["runs_completed"] >= 1,
            what="the sink to run despite its failed optional Source",
        )
        assert not status_of(client, "sink@1")["is_blocked"]


def test_two_majors_run_side_by_side_and_a_cycle_is_rejected(
    server: Server, tmp_path: Path
) -> None:
    server.connect_cli()
    deploy(server, write_pond(tmp_path, "source", COUNTER, kind="inlet"))
    deploy(server, write_pond(tmp_path, "source", COUNTER, kind="inlet", version="2.0.0"))
    body = COPY_OF.format(table="copy", source="source", source_table="numbers")
    deploy(server, write_pond(tmp_path, "sink", body, sources={"source": "2.0.0"}))
    with server.client() as client:
        ids = {p["id"] for p in client.get("/status").json()["ponds"]}
        assert {"source@1", "source@2", "sink@1"} <= ids
        client.post("/ponds/sink/pulse")
        server.wait_for(lambda c: status_of(c, "sink@1")["runs_completed"] >= 1, what="sink")
        assert status_of(client, "source@1")["runs_completed"] == 0
        assert status_of(client, "source@2")["runs_completed"] >= 1
        assert (server.root / "ponds" / "source" / "m2" / "data" / "numbers.parquet").exists()
        assert not (server.root / "ponds" / "source" / "m1" / "data").exists()
        # The deploy made the ledger of a line that never ran, so a first run does not wait.
        with sqlite3.connect(server.root / "ponds" / "source" / "m1" / "pond.db") as ledger:
            assert ledger.execute("PRAGMA user_version").fetchone() == (len(_MIGRATIONS),)
            assert ledger.execute("SELECT count(*) FROM runs").fetchone() == (0,)
        assert client.get("/ponds/source/budget", params={"major": 1}).status_code == 200
        # A version addresses the line of its own major, where it must be the selected one.
        assert client.post("/ponds/source/tap", params={"version": "1.0.0"}).status_code == 200
        assert client.post("/ponds/source/tap", params={"version": "1.9.9"}).status_code == 404
        wrong_major = {"version": "1.0.0", "major": 2}
        assert client.post("/ponds/source/tap", params=wrong_major).status_code == 422
        assert client.post("/ponds/nothing/tap").status_code == 404
        assert client.post("/ponds/source/tap", params={"major": 7}).status_code == 404
    cyclic = write_pond(
        tmp_path / "cycle",
        "source",
        COPY_OF.format(table="numbers", source="sink", source_table="copy"),
        version="2.1.0",
        sources={"sink": "1.0.0"},
    )
    result = server.cli("pond", "deploy", "-y", cwd=cyclic, check=False)
    assert result.returncode != 0 and "cycle" in result.stderr
    with server.client() as client:
        assert client.get("/ponds/source/versions/2.1.0").status_code == 404
        assert status_of(client, "source@2")["version"] == "2.0.0"


def test_a_run_whose_duck_died_before_taking_it_is_not_begun_by_the_next(
    server: Server, tmp_path: Path
) -> None:
    """The Duck is killed while it imports the Pond's module, before it began its run or
    polled: the run fails, and no later Duck begins it (only the next run is begun)."""
    slow = tmp_path / "slow-import"
    body = f"""
    import time
    from pathlib import Path

    if Path({str(slow)!r}).exists():
        time.sleep(5)


    @ripple
    def step(pond):
        pond.write_table("t", pond.con.sql("SELECT 1 AS n"))
    """
    server.connect_cli()
    deploy(server, write_pond(tmp_path, "slow", body, kind="inlet"))
    slow.touch()
    with server.client() as client:
        assert client.post("/ponds/slow/pulse").json() == {"ok": True}
        pids = server.wait_for(
            lambda c: duck_pids(server.root).get("slow"), what="the Duck to take its line"
        )
        os.kill(pids[0], signal.SIGKILL)
        server.wait_for(
            lambda c: status_of(c, "slow@1")["status"] == "failed", what="the run to fail"
        )
        slow.unlink()
        assert client.post("/ponds/slow/clear").json() == {"ok": True}
        assert client.post("/ponds/slow/pulse").json() == {"ok": True}
        server.wait_for(
            lambda c: status_of(c, "slow@1")["runs_completed"] == 1, what="the next run"
        )
        runs = client.get("/runs", params={"pond": "slow", "lineage": False}).json()["runs"]
    assert sorted((r["seq"], r["status"]) for r in runs) == [(1, "failed"), (2, "success")]
    ledger = sqlite3.connect(server.root / "ponds" / "slow" / "m1" / "pond.db")
    try:
        begun = [seq for (seq,) in ledger.execute("SELECT seq FROM runs ORDER BY seq")]
    finally:
        ledger.close()
    assert begun == [2]
