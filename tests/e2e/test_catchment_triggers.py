"""Triggers and windows through a real Catchment: Wave, Tide, Tap, and a windowed Inlet."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from pathlib import Path

from e2e.projects import COUNTER, chain_projects, write_pond
from e2e.server import Server, status_of


def chain(server: Server, tmp_path: Path) -> None:
    """source (Inlet) -> middle -> sink."""
    server.connect_cli()
    for project in chain_projects(tmp_path):
        server.cli("pond", "deploy", "-y", cwd=project)


def test_a_wave_keeps_the_lineage_flowing_and_the_duck_warm(server: Server, tmp_path: Path) -> None:
    chain(server, tmp_path)
    server.cli("trigger", "wave", "sink", "--silent")
    server.wait_for(
        lambda c: status_of(c, "sink@1")["runs_completed"] >= 5,
        timeout=60,
        what="five sink runs under the Wave",
    )
    with server.client() as client:
        counts = {
            line: status_of(client, line)["runs_completed"]
            for line in ("source@1", "middle@1", "sink@1")
        }
        # Nothing upstream runs faster than it is consumed (a batch or two of lead at most).
        assert counts["source@1"] <= counts["sink@1"] + 3
        assert status_of(client, "sink@1")["trigger"] == {"kind": "wave", "bound_ms": None}
        client.post("/ponds/sink/untrigger")
        server.wait_for(
            lambda c: all(
                status_of(c, line)["status"] == "idle"
                for line in ("source@1", "middle@1", "sink@1")
            ),
            what="the lineage to drain",
        )


def test_a_tide_keeps_staleness_under_its_bound(server: Server, tmp_path: Path) -> None:
    chain(server, tmp_path)
    with server.client() as client:
        assert client.post("/ponds/sink/tide", json={"bound_seconds": 1.0}).json()["ok"]
        assert client.post("/ponds/sink/tide", json={"bound_seconds": -1}).status_code == 422
        server.wait_for(
            lambda c: status_of(c, "sink@1")["runs_completed"] >= 3,
            timeout=60,
            what="three Tide runs",
        )
        sink = status_of(client, "sink@1")
        assert sink["trigger"] == {"kind": "tide", "bound_ms": 1000}
        starts = [
            datetime.fromisoformat(r["started_at"].replace("Z", "+00:00"))
            for r in client.get("/runs", params={"pond": "source", "lineage": False}).json()["runs"]
        ]
        gaps = [(a - b).total_seconds() for a, b in itertools.pairwise(starts)]
        assert gaps and all(0.5 < gap < 3.0 for gap in gaps[:-1]), gaps


def test_a_tap_runs_the_lineage_once_and_pre_arms_the_sources(
    server: Server, tmp_path: Path
) -> None:
    chain(server, tmp_path)
    out = server.cli("trigger", "tap", "sink")
    assert "settled" in out.stdout
    with server.client() as client:
        server.wait_for(
            lambda c: all(
                status_of(c, line)["status"] == "idle"
                for line in ("source@1", "middle@1", "sink@1")
            ),
            what="the lineage to settle",
        )
        assert status_of(client, "sink@1")["runs_completed"] == 1
        # The cold Tap of a chain: the sources prepared the next batches while it ran.
        assert status_of(client, "middle@1")["runs_completed"] == 2
        assert status_of(client, "source@1")["runs_completed"] == 3
        sink_f = status_of(client, "sink@1")["end_f"]
        assert status_of(client, "source@1")["end_f"] > sink_f


def test_a_windowed_inlet_waits_for_its_window_and_takes_the_window_end(
    server: Server, tmp_path: Path
) -> None:
    server.connect_cli()
    server.cli("pond", "deploy", "-y", cwd=write_pond(tmp_path, "source", COUNTER, kind="inlet"))
    now = datetime.now(UTC)
    later = (now + timedelta(hours=2)).replace(microsecond=0)
    with server.client() as client:
        window = {
            "name": "later",
            "start_anchor": later.isoformat(),
            "freq_unit": "DAY",
            "freq_interval": 1,
            "duration_seconds": 3600,
        }
        assert client.post("/ponds/source/windows", json=window).json()["ok"]
        client.post("/ponds/source/tap")
        assert status_of(client, "source@1")["status"] == "queued"
        overlap = {**window, "name": "clash", "freq_unit": "HOUR"}
        clash = client.post("/ponds/source/windows", json=overlap)
        assert clash.status_code == 422 and "overlap" in clash.json()["detail"]
        opened = (now - timedelta(minutes=1)).replace(microsecond=0)
        window = {
            "name": "open",
            "start_anchor": opened.isoformat(),
            "freq_unit": "DAY",
            "freq_interval": 1,
            "duration_seconds": 600,
        }
        assert client.post("/ponds/source/windows", json=window).json()["ok"]
        client.post("/ponds/source/windows/later/remove")
        assert client.post("/ponds/source/windows/later/remove").status_code == 404
        listed = client.get("/ponds/source/windows").json()["windows"]
        assert [w["name"] for w in listed] == ["open"]
        server.wait_for(
            lambda c: status_of(c, "source@1")["runs_completed"] == 1,
            what="the run inside the window",
        )
        source = status_of(client, "source@1")
        end = datetime.fromisoformat(source["end_f"].replace("Z", "+00:00"))
        assert end == opened + timedelta(minutes=10)
        assert source["d_ms"] == 600_000
