"""When Ducks start and stop: ahead of their line's first run, and a while after going idle."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

from e2e.projects import chain_projects, write_pond
from e2e.server import Server, children_of, duck_pids, status_of

SLOW_SOURCE = """
import time

@ripple
def numbers(pond):
    time.sleep({seconds})
    pond.write_table("numbers", pond.con.sql("SELECT 1 AS n"))
"""


def chain(server: Server, tmp_path: Path, seconds: float) -> None:
    """source (an Inlet whose Ripple sleeps) -> middle -> sink."""
    server.connect_cli()
    for project in chain_projects(tmp_path, SLOW_SOURCE.format(seconds=seconds)):
        server.cli("pond", "deploy", "-y", cwd=project)


def pulse_and_settle(server: Server, client: httpx.Client, runs: int = 1) -> None:
    """Pulse the sink and wait until it has completed ``runs`` runs in all."""
    client.post("/ponds/sink/pulse").raise_for_status()
    server.wait_for(
        lambda c: status_of(c, "sink@1")["runs_completed"] == runs,
        what=f"Pulse {runs} to settle",
    )


@contextmanager
def catchment(tmp_path: Path, **env: str) -> Iterator[Server]:
    """A Catchment with these settings; on the way out, stopped for good (:meth:`Server.close`)."""
    server = Server(root=tmp_path / "root", home=tmp_path / "home", env=env).start()
    try:
        yield server
    finally:
        server.close()


def test_ducks_of_a_pulled_lineage_start_before_their_runs(tmp_path: Path) -> None:
    with catchment(tmp_path) as server:
        chain(server, tmp_path, seconds=3)
        assert not duck_pids(server.root), "no Duck runs before anything is triggered"
        with server.client() as client:
            client.post("/ponds/sink/pulse").raise_for_status()
            server.wait_for(
                lambda c: status_of(c, "source@1")["status"] == "running",
                what="the source to run",
            )
            # While the source still runs, the Sinks' Ducks are up and waiting for work.
            server.wait_for(
                lambda c: {"middle", "sink"} <= set(duck_pids(server.root)),
                timeout=15,
                what="the Ducks of middle and sink to start ahead",
            )
            assert status_of(client, "source@1")["status"] == "running"
            # Ducks run at the lowest CPU priority, below the Catchment that dispatches them.
            server_nice = os.getpriority(os.PRIO_PROCESS, server.pid)
            for pids in duck_pids(server.root).values():
                assert os.getpriority(os.PRIO_PROCESS, pids[0]) == min(19, server_nice + 19)
            for line in ("middle@1", "sink@1"):
                state = status_of(client, line)
                assert state["status"] == "queued" and state["runs_completed"] == 0
            server.wait_for(
                lambda c: status_of(c, "sink@1")["runs_completed"] == 1,
                what="the Pulse to reach the sink",
            )


def test_idle_ducks_linger_then_stop(tmp_path: Path) -> None:
    with catchment(tmp_path, DUCKSTRING_DUCK_LINGER="4", DUCKSTRING_DUCK_LINGER_MAX="2") as server:
        chain(server, tmp_path, seconds=0)
        with server.client() as client:
            pulse_and_settle(server, client)
            # Three Ducks went idle; only the two most recently idle stay warm.
            server.wait_for(
                lambda c: set(duck_pids(server.root)) == {"middle", "sink"},
                timeout=10,
                what="the longest-idle Duck to stop at once",
            )
            first = duck_pids(server.root)
            # A second Pulse reuses the warm Ducks: no new process for middle and sink.
            pulse_and_settle(server, client, 2)
            for line in ("middle", "sink"):
                assert duck_pids(server.root)[line] == first[line]
            server.wait_for(
                lambda c: not duck_pids(server.root),
                timeout=20,
                what="idle Ducks to stop after lingering",
            )


def test_idle_ducks_linger_only_within_their_memory_budget(tmp_path: Path) -> None:
    """Each idle Duck's memory is measured; none fits in 1 MiB, so none lingers its 60 s."""
    with catchment(tmp_path, DUCKSTRING_DUCK_LINGER="60", DUCKSTRING_DUCK_LINGER_MIB="1") as server:
        chain(server, tmp_path, seconds=0)
        with server.client() as client:
            pulse_and_settle(server, client)
        server.wait_for(lambda c: not duck_pids(server.root), timeout=15, what="Ducks to stop")


def test_linger_zero_stops_idle_ducks_at_once(tmp_path: Path) -> None:
    with catchment(tmp_path, DUCKSTRING_DUCK_LINGER="0", DUCKSTRING_DUCK_NICE="0") as server:
        chain(server, tmp_path, seconds=1)
        with server.client() as client:
            client.post("/ponds/sink/pulse").raise_for_status()
            pids = server.wait_for(
                lambda c: duck_pids(server.root).get("source"), what="the source's Duck"
            )
            server_nice = os.getpriority(os.PRIO_PROCESS, server.pid)
            assert os.getpriority(os.PRIO_PROCESS, pids[0]) == server_nice
            server.wait_for(
                lambda c: status_of(c, "sink@1")["runs_completed"] == 1,
                what="the Pulse to settle",
            )
        server.wait_for(lambda c: not duck_pids(server.root), timeout=10, what="Ducks to stop")


def test_no_duck_starts_ahead_behind_a_closed_window(tmp_path: Path) -> None:
    """A lineage waiting on an Inlet's closed window does not hold Ducks for hours."""
    now = datetime.now(UTC).replace(microsecond=0)

    def window(name: str, start: datetime, seconds: int) -> dict[str, object]:
        return {
            "name": name,
            "start_anchor": start.isoformat(),
            "freq_unit": "DAY",
            "freq_interval": 1,
            "duration_seconds": seconds,
        }

    with catchment(tmp_path) as server:
        chain(server, tmp_path, seconds=0)
        with server.client() as client:
            later = window("later", now + timedelta(hours=2), 3600)
            assert client.post("/ponds/source/windows", json=later).json()["ok"]
            client.post("/ponds/sink/pulse").raise_for_status()
            assert status_of(client, "sink@1")["status"] == "queued"
            # Ducks started ahead would be forked within milliseconds of the Pulse.
            time.sleep(1.5)
            assert not duck_pids(server.root)
            client.post("/ponds/source/windows/later/remove").raise_for_status()
            opened = window("open", now - timedelta(minutes=1), 600)
            assert client.post("/ponds/source/windows", json=opened).json()["ok"]
            server.wait_for(
                lambda c: status_of(c, "sink@1")["runs_completed"] == 1,
                what="the lineage to run once the window opened",
            )


#: A Sink whose module leaves a file beside itself when it is imported.
MARKS_ITS_IMPORT = """
from pathlib import Path

Path(__file__).with_name("imported").touch()

@ripple
def copy(pond):
    pond.write_table("copy", pond.read_table("source.numbers"))
"""


def test_a_duck_started_ahead_loads_its_code_before_its_run(tmp_path: Path) -> None:
    """The Catchment tells a new Duck the version it will run; the Duck imports that code while
    it waits, not between its run starting and its first Ripple."""
    with catchment(tmp_path) as server:
        server.connect_cli()
        source = write_pond(tmp_path, "source", SLOW_SOURCE.format(seconds=3), kind="inlet")
        sink = write_pond(
            tmp_path, "sink", MARKS_ITS_IMPORT, kind="outlet", sources={"source": "1.0.0"}
        )
        for project in (source, sink):
            server.cli("pond", "deploy", "-y", cwd=project)
        imported = server.root / "ponds" / "sink" / "1.0.0" / "src" / "imported"
        imported.unlink(missing_ok=True)  # left by the deploy's discovery, in its own process
        with server.client() as client:
            client.post("/ponds/sink/pulse").raise_for_status()
            server.wait_for(lambda c: imported.exists(), timeout=15, what="the sink's import")
            assert status_of(client, "source@1")["status"] == "running"
            assert status_of(client, "sink@1")["runs_completed"] == 0
            server.wait_for(
                lambda c: status_of(c, "sink@1")["runs_completed"] == 1,
                what="the Pulse to reach the sink",
            )


def spares(server: Server) -> set[int]:
    """The spare Ducks waiting: the forkserver's children that hold no line's lock."""
    forkservers = [
        pid
        for pid in children_of(server.pid)
        if b"forkserver" in Path(f"/proc/{pid}/cmdline").read_bytes()
    ]
    children = {child for pid in forkservers for child in children_of(pid)}
    holding = {pid for pids in duck_pids(server.root).values() for pid in pids}
    return children - holding


def test_a_lines_first_run_takes_a_spare_duck_forked_before_the_trigger(tmp_path: Path) -> None:
    with catchment(tmp_path) as server:
        server.connect_cli()
        project = write_pond(tmp_path, "solo", SLOW_SOURCE.format(seconds=2), kind="inlet")
        server.cli("pond", "deploy", "-y", cwd=project)
        server.wait_for(lambda c: len(spares(server)) == 2, what="two spare Ducks")
        waiting = spares(server)
        with server.client() as client:
            client.post("/ponds/solo/pulse").raise_for_status()
            server.wait_for(
                lambda c: status_of(c, "solo@1")["ripples"][0]["status"] == "running",
                what="the Ripple to run",
            )
            (duck,) = duck_pids(server.root)["solo"]
            assert duck in waiting  # no fork between the Pulse and the run
            # No spare is forked while a run is in flight: it would take CPU from it.
            deadline = time.monotonic() + 1.0
            while time.monotonic() < deadline:
                assert spares(server) == waiting - {duck}
                time.sleep(0.05)
            assert status_of(client, "solo@1")["runs_completed"] == 0
            server.wait_for(lambda c: status_of(c, "solo@1")["runs_completed"] == 1, what="the run")
        server.wait_for(lambda c: len(spares(server)) == 2, what="a new spare once it is quiet")
        assert duck not in spares(server)


def test_stopping_the_catchment_with_a_run_in_flight_logs_no_error(tmp_path: Path) -> None:
    """The Ducks' exits during a shutdown are the shutdown's doing, not news to record (the
    store is closed by then)."""
    with catchment(tmp_path) as server:
        server.connect_cli()
        project = write_pond(tmp_path, "solo", SLOW_SOURCE.format(seconds=5), kind="inlet")
        server.cli("pond", "deploy", "-y", cwd=project)
        with server.client() as client:
            client.post("/ponds/solo/pulse").raise_for_status()
            server.wait_for(
                lambda c: status_of(c, "solo@1")["ripples"][0]["status"] == "running",
                what="the Ripple to run",
            )
        server.stop(signal.SIGINT)  # Ctrl+C
        log = server.log.read_text()
        assert "Traceback" not in log, log[-3000:]
