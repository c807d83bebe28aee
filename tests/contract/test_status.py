"""``GET /api/status`` as a client written for 0.2.0 reads it: keys, types and counters after
deploy, Pulse, force, clear, redeploy and kill (surface.md, "Wire details")."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx

from contract.conftest import deploy, line
from e2e.projects import COPY_OF, COUNTER
from e2e.server import Server

POND_KEYS = {
    "id",
    "name",
    "major",
    "kind",
    "version",
    "status",
    "gen",
    "runs_completed",
    "has_pull",
    "target_f",
    "start_f",
    "end_f",
    "d_ms",
    "trigger",
    "is_failed",
    "is_blocked",
    "is_killed",
    "failed_f",
    "failures",
    "immediate_retries",
    "source_retries",
    "ripples",
    "ripple_edges",
}
RIPPLE_KEYS = {
    "name",
    "status",
    "gen",
    "runs_completed",
    "has_pull",
    "target_f",
    "start_f",
    "end_f",
}

#: Importing the module takes a while, so a Duck's first event comes late: what the Catchment
#: shows before it, it shows from the dispatch alone.
SLOW_START = """
import time

time.sleep(1.5)


@ripple
def first(pond):
    time.sleep(0.5)
    pond.write_table("first", pond.con.sql("SELECT 1 AS n"))


@ripple(parents=[first])
def second(pond):
    time.sleep(1.5)
    pond.write_table("second", pond.read_table("first"))
"""

FAILS = """
@ripple
def fragile(pond):
    raise ValueError("the input is broken")
"""

SLOW = """
import time


@ripple
def numbers(pond):
    time.sleep(30)
    pond.write_table("numbers", pond.con.sql("SELECT 1 AS n"))
"""


def counters(client: httpx.Client, line_id: str) -> tuple[int, int]:
    state = line(client, line_id)
    return state["gen"], state["runs_completed"]


def ripple_counters(client: httpx.Client, line_id: str) -> dict[str, tuple[int, int]]:
    return {r["name"]: (r["gen"], r["runs_completed"]) for r in line(client, line_id)["ripples"]}


def settled(line_id: str, runs: int) -> Any:
    def check(client: httpx.Client) -> bool:
        state = line(client, line_id)
        return bool(state["runs_completed"] >= runs and state["status"] in ("idle", "queued"))

    return check


def quiet(client: httpx.Client, seconds: float = 1.5) -> dict[str, tuple[int, int]]:
    """Every line's counters, unchanged over ``seconds`` (nothing started meanwhile)."""

    def read() -> dict[str, tuple[int, int]]:
        ponds = client.get("/status").json()["ponds"]
        return {p["id"]: (p["gen"], p["runs_completed"]) for p in ponds}

    before = read()
    time.sleep(seconds)  # waiting for something not to happen: no event to wait on
    assert read() == before
    return before


def test_a_fresh_line_has_the_documented_keys_and_types_and_counts_nothing(
    server: Server, tmp_path: Path
) -> None:
    deploy(server, tmp_path, "source", COUNTER, kind="inlet")
    with server.client() as client:
        document = client.get("/status").json()
        assert set(document) >= {"ponds", "edges"}
        (pond,) = document["ponds"]
        assert set(pond) >= POND_KEYS
        assert pond["id"] == "source@1" and pond["name"] == "source" and pond["major"] == 1
        assert pond["kind"] == "inlet" and pond["version"] == "1.0.0"
        assert (pond["status"], pond["gen"], pond["runs_completed"]) == ("idle", 0, 0)
        assert pond["trigger"] is None and pond["d_ms"] == 0
        assert pond["start_f"] is None and pond["end_f"] is None and pond["failed_f"] is None
        assert (pond["is_failed"], pond["is_blocked"], pond["is_killed"]) == (False,) * 3
        assert (pond["failures"], pond["immediate_retries"], pond["source_retries"]) == (0, 0, 0)
        assert pond["ripple_edges"] == [] and document["edges"] == []
        (ripple,) = pond["ripples"]
        assert set(ripple) == RIPPLE_KEYS
        assert ripple == {
            "name": "numbers",
            "status": "idle",
            "gen": 0,
            "runs_completed": 0,
            "has_pull": False,
            "target_f": None,
            "start_f": None,
            "end_f": None,
        }


def test_gen_counts_runs_started_through_pulse_force_redeploy_and_clear(
    server: Server, tmp_path: Path
) -> None:
    deploy(server, tmp_path / "a", "source", COUNTER, kind="inlet")
    copy = COPY_OF.format(table="copy", source="source", source_table="numbers")
    deploy(server, tmp_path / "a", "sink", copy, sources={"source": "1.0.0"})
    with server.client() as client:
        assert client.post("/ponds/sink/pulse").json() == {"ok": True}
        server.wait_for(settled("sink@1", 1), what="the Pulse")
        assert counters(client, "source@1") == (1, 1) and counters(client, "sink@1") == (1, 1)
        assert ripple_counters(client, "sink@1") == {"copy": (1, 1)}
        end_f = line(client, "sink@1")["end_f"]

        # force re-runs the line at its freshness: one more run started and completed, no
        # propagation up or down, endF unchanged.
        assert client.post("/ponds/sink/force").json() == {"ok": True}
        server.wait_for(settled("sink@1", 2), what="the forced run")
        assert counters(client, "sink@1") == (2, 2)
        assert ripple_counters(client, "sink@1") == {"copy": (2, 2)}
        assert counters(client, "source@1") == (1, 1)
        assert line(client, "sink@1")["end_f"] == end_f

        # A redeploy (the same version again, and a new one) starts nothing and keeps counting.
        deploy(server, tmp_path / "b", "sink", copy, sources={"source": "1.0.0"})
        deploy(server, tmp_path / "b", "sink", copy, version="1.1.0", sources={"source": "1.0.0"})
        assert quiet(client)["sink@1"] == (2, 2)
        assert ripple_counters(client, "sink@1") == {"copy": (2, 2)}

        # clear on a healthy line changes nothing.
        assert client.post("/ponds/sink/clear").json() == {"ok": True}
        assert quiet(client, 0.5)["sink@1"] == (2, 2)


def test_ripples_read_running_from_dispatch_and_the_pond_only_while_one_does(
    server: Server, tmp_path: Path
) -> None:
    deploy(server, tmp_path, "slow", SLOW_START, kind="inlet")
    with server.client() as client:
        assert client.post("/ponds/slow/pulse").json() == {"ok": True}
        # The Duck is still importing the module (1.5 s): nothing of it has reported yet.
        state = line(client, "slow@1")
        ripples = {r["name"]: r for r in state["ripples"]}
        assert state["status"] == "running"
        assert (state["gen"], state["runs_completed"]) == (1, 0)  # one run in flight
        assert (ripples["first"]["status"], ripples["first"]["gen"]) == ("running", 1)
        # second waits for first's output: it holds the run's target, it is not running yet.
        assert ripples["second"]["status"] == "queued" and ripples["second"]["gen"] == 0
        assert ripples["second"]["target_f"] == state["start_f"]

        def second_running(c: httpx.Client) -> bool:
            return {r["name"]: r["status"] for r in line(c, "slow@1")["ripples"]} == {
                "first": "idle",
                "second": "running",
            }

        server.wait_for(second_running, what="second to start", timeout=20)
        server.wait_for(settled("slow@1", 1), what="the run")
        state = line(client, "slow@1")
        assert state["status"] == "idle" and (state["gen"], state["runs_completed"]) == (1, 1)
        assert ripple_counters(client, "slow@1") == {"first": (1, 1), "second": (1, 1)}


def test_clear_and_a_redeploy_of_a_failed_line_start_nothing_and_leave_the_sink_waiting(
    server: Server, tmp_path: Path
) -> None:
    deploy(server, tmp_path / "a", "source", COUNTER, kind="inlet")
    deploy(server, tmp_path / "a", "middle", FAILS, sources={"source": "1.0.0"})
    copy = COPY_OF.format(table="copy", source="middle", source_table="fragile")
    deploy(server, tmp_path / "a", "sink", copy, sources={"middle": "1.0.0"})
    with server.client() as client:
        assert client.post("/ponds/sink/pulse").json() == {"ok": True}
        server.wait_for(lambda c: line(c, "middle@1")["is_failed"], what="middle to fail")
        middle = line(client, "middle@1")
        assert (middle["status"], middle["gen"], middle["runs_completed"]) == ("failed", 1, 0)
        assert middle["failures"] == 1 and middle["failed_f"] is not None
        assert ripple_counters(client, "middle@1") == {"fragile": (1, 0)}
        assert {r["status"] for r in middle["ripples"]} == {"idle"}
        sink = line(client, "sink@1")
        assert (sink["status"], sink["is_blocked"], sink["gen"]) == ("blocked", True, 0)
        assert sink["target_f"] is not None

        assert client.post("/ponds/middle/clear").json() == {"ok": True}
        counts = quiet(client)
        assert counts["middle@1"] == (1, 0) and counts["sink@1"] == (0, 0)
        middle, sink = line(client, "middle@1"), line(client, "sink@1")
        assert (middle["status"], middle["is_failed"], middle["failures"]) == ("idle", False, 0)
        assert middle["failed_f"] is None
        # The sink keeps its target: it waits for new demand or a Source's endF to advance.
        assert (sink["status"], sink["is_blocked"]) == ("queued", False)
        assert sink["target_f"] is not None

        # Fail it again, then ship a fix: deploying clears the failure and starts nothing.
        assert client.post("/ponds/middle/wake").json() == {"ok": True}
        server.wait_for(lambda c: line(c, "middle@1")["is_failed"], what="middle to fail again")
        assert counters(client, "middle@1") == (2, 0)
        fixed = COPY_OF.format(table="fragile", source="source", source_table="numbers")
        deploy(server, tmp_path / "b", "middle", fixed, sources={"source": "1.0.0"})
        counts = quiet(client)
        assert counts == {"source@1": (1, 1), "middle@1": (2, 0), "sink@1": (0, 0)}
        assert not line(client, "middle@1")["is_failed"]
        assert not line(client, "sink@1")["is_blocked"]

        # New demand flows: the sink's Pulse runs the lineage.
        assert client.post("/ponds/sink/pulse").json() == {"ok": True}
        server.wait_for(settled("sink@1", 1), what="the sink to run after the fix")
        assert counters(client, "middle@1") == (3, 1) and counters(client, "sink@1") == (1, 1)


def test_kill_parks_the_line_counts_no_completion_and_force_on_a_never_run_line_runs_it(
    server: Server, tmp_path: Path
) -> None:
    deploy(server, tmp_path, "slow", SLOW, kind="inlet")
    deploy(server, tmp_path, "quick", COUNTER, kind="inlet")
    with server.client() as client:
        # force on a line that never ran is no error: one run at the current sourceF.
        assert client.post("/ponds/quick/force").json() == {"ok": True}
        server.wait_for(settled("quick@1", 1), what="the forced first run")
        assert counters(client, "quick@1") == (1, 1)
        runs = client.get("/runs", params={"pond": "quick"}).json()["runs"]
        assert [r["status"] for r in runs] == ["success"]

        assert client.post("/ponds/slow/pulse").json() == {"ok": True}
        server.wait_for(lambda c: line(c, "slow@1")["status"] == "running", what="slow to run")
        assert counters(client, "slow@1") == (1, 0)
        assert client.post("/ponds/slow/kill").json() == {"ok": True}
        state = line(client, "slow@1")
        assert (state["status"], state["is_killed"], state["is_blocked"]) == ("killed", True, True)
        assert (state["gen"], state["runs_completed"]) == (1, 0)
        assert {r["status"] for r in state["ripples"]} == {"idle"}
        runs = client.get("/runs", params={"pond": "slow"}).json()["runs"]
        assert [r["status"] for r in runs] == ["killed"]
        assert quiet(client, 0.5)["slow@1"] == (1, 0)
        assert client.post("/ponds/slow/clear").json() == {"ok": True}
        state = line(client, "slow@1")
        assert (state["status"], state["is_killed"], state["gen"]) == ("idle", False, 1)
