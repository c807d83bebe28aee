"""A Catchment stopped with runs in flight: Ctrl+C on its terminal, SIGTERM, and SIGKILL.

The Ducks with work in flight go on without it and a Catchment started again on the root
adopts them; idle Ducks and spares stop with a graceful stop; and nothing of the old server
outlives the Ducks it served. The demo runs under a Wave, at half its documented durations.
"""

from __future__ import annotations

import os
import select
import signal
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pexpect
import pytest

from e2e.projects import write_pond
from e2e.server import (
    DUCKSTRING,
    Server,
    children_of,
    line_ducks,
    parent_of,
    running_lines,
    started_at,
    still_running,
    unreaped,
    wait_until,
)

#: Half the demo's documented durations (sales, the bottleneck, runs 2.5 s), and idle Ducks
#: stop a second after they go idle (a CLI Catchment keeps its default of a minute).
DEMO_ENV = {"DUCKSTRING_DEMO_SCALE": "0.5", "DUCKSTRING_DUCK_LINGER": "1"}


class Terminal:
    """A command run on a pseudo-terminal of its own, as from a shell: Ctrl+C there sends
    SIGINT to its whole foreground process group, and when it exits (it leads the terminal's
    session) the kernel sends SIGHUP to that group. What is written there goes to ``log``."""

    def __init__(self, args: list[str], env: dict[str, str], cwd: Path, log: Path) -> None:
        self.child = pexpect.spawn(args[0], args[1:], env=env, cwd=str(cwd), timeout=None)
        self.log = log
        # Read everything written, or a Duck left running would block on a full terminal.
        self._drainer = threading.Thread(target=self._drain, daemon=True)
        self._drainer.start()

    def _drain(self) -> None:
        with open(self.log, "ab") as out:
            while True:
                try:
                    ready, _, _ = select.select([self.child.child_fd], [], [], 1.0)
                    data = os.read(self.child.child_fd, 65536) if ready else b""
                except (OSError, ValueError):
                    return  # every writer is gone, or the terminal was closed
                if ready and not data:
                    return
                out.write(data)
                out.flush()

    @property
    def pid(self) -> int:
        return int(self.child.pid)

    def ctrl_c(self, timeout: float = 30.0) -> None:
        """Type Ctrl+C and wait for the command to exit."""
        self.child.sendintr()
        assert wait_until(lambda: not self.child.isalive(), timeout), "it did not exit"

    def close(self) -> None:
        if self.child.isalive():
            self.child.kill(signal.SIGKILL)
        self.child.close(force=True)


def demo_projects(server: Server) -> Path:
    projects = server.root.parent / "projects"
    projects.mkdir()
    server.cli("pond", "demo", cwd=projects)
    return projects


def deploy(server: Server, projects: Path) -> None:
    out = server.cli("pond", "deploy", "--all", "-y", cwd=projects)
    assert out.stdout.count("deployed") == 4, out.stdout


def status(client: httpx.Client) -> dict[str, dict[str, Any]]:
    return {p["id"]: p for p in client.get("/status").json()["ponds"]}


def wave_until_sales_is_mid_run(server: Server) -> None:
    """A Wave on reports, until sales runs its last Ripple (the two before it done)."""

    def mid_run(client: httpx.Client) -> bool:
        sales = status(client)["sales@1"]
        ripples = {r["name"]: r for r in sales["ripples"]}
        return sales["runs_completed"] >= 1 and ripples["join_lines"]["status"] == "running"

    with server.client() as client:
        assert client.post("/ponds/reports/wave").json() == {"ok": True}
    server.wait_for(mid_run, timeout=90, what="sales mid-run under the Wave")


def in_flight(root: Path) -> set[tuple[str, int]]:
    """The runs ``duck.db`` holds in flight, as (line, seq): read once the server is gone."""
    with sqlite3.connect(root / "duck.db") as con:
        rows = con.execute("SELECT line, seq FROM runs WHERE status = 'running'").fetchall()
    return {(str(line), int(seq)) for line, seq in rows}


def family_of(pid: int, size: int | None = None) -> dict[int, int]:
    """``pid``'s descendants now (pid -> start time): a Catchment's forkserver, resource
    tracker, Ducks and spares. With ``size``: empty unless there are that many."""
    found = {child: started_at(child) for child in children_of(pid)}
    family = {child: start for child, start in found.items() if start is not None}
    return family if size is None or len(family) == size else {}


def helpers_of(pid: int) -> dict[int, int]:
    """The processes a Catchment ``pid`` started itself (pid -> start time): its forkserver
    and multiprocessing's resource tracker. (Ducks and spares are the forkserver's.)"""
    return {child: start for child, start in family_of(pid).items() if parent_of(child) == pid}


def assert_left_exactly_the_busy_ducks(
    server: Server, before: dict[str, list[int]]
) -> dict[str, int]:
    """After a graceful stop: the Ducks still running are those of the lines with a run in
    flight, one each, the same processes as before the stop. Returns them by line."""
    left = line_ducks(server.root)
    busy = running_lines(server.root)
    assert busy, "the stop came with runs in flight"
    assert set(left) == busy, f"left running {left}, runs in flight on {busy}"
    for line, pids in left.items():
        assert pids == before.get(line), f"the Duck of {line} is the one that ran before the stop"
    return {line: pids[0] for line, pids in left.items()}


def restart_and_drain(
    server: Server, left: dict[str, int], flying: set[tuple[str, int]], old: dict[int, int]
) -> None:
    """The Catchment is serving the root again: it adopts the Ducks ``left`` running (same
    PIDs, one Duck per line), the Wave goes on, and once it is removed every run has ended in
    success, each Ripple of each run ran once, and the runs ``flying`` at the stop are among
    them. ``old``: the processes of the Catchment stopped."""
    with server.client() as client:
        settled = status(client)["reports@1"]["runs_completed"]
    server.wait_for(
        lambda c: status(c)["reports@1"]["runs_completed"] >= settled + 2,
        timeout=90,
        what="the Wave to go on after the restart",
    )
    ducks = line_ducks(server.root)
    assert all(len(pids) == 1 for pids in ducks.values()), ducks
    for line, pid in left.items():
        assert ducks.get(line) == [pid], f"the Duck of {line} was adopted, not replaced"
    with server.client() as client:
        assert client.post("/ponds/reports/untrigger").json() == {"ok": True}
    server.wait_for(drained, timeout=90, what="the pipeline to drain")
    with server.client() as client:
        runs = client.get("/runs", params={"limit": 1000, "ripples": True}).json()["runs"]
    assert runs and all(r["status"] == "success" for r in runs), [
        (r["id"], r["seq"], r["status"], r["error"]) for r in runs if r["status"] != "success"
    ]
    ended = {(r["id"], r["seq"]) for r in runs}
    assert flying <= ended, "every run in flight at the stop ended, in success"
    for run in runs:
        ripples = [a["ripple"] for a in run["ripples"]]
        assert len(ripples) == len(set(ripples)), f"a Ripple of {run['id']} #{run['seq']} re-ran"
        assert all(a["status"] == "success" and a["retry"] == 0 for a in run["ripples"]), run
    assert not unreaped(old), "the old forkserver reaps the Ducks it forked"


def drained(client: httpx.Client) -> bool:
    """Every line idle, and no run in flight in the history."""
    runs = client.get("/runs", params={"limit": 1000}).json()["runs"]
    idle = all(p["status"] == "idle" for p in status(client).values())
    return idle and not any(r["status"] == "running" for r in runs)


def assert_gone(processes: dict[int, int], timeout: float, what: str) -> None:
    wait_until(lambda: not still_running(processes), timeout)
    assert not still_running(processes), f"{what} still running: {still_running(processes)}"


@contextmanager
def on_a_terminal(server: Server, *args: str) -> Iterator[Terminal]:
    """``duckstring ARGS`` on a terminal of its own, with ``server``'s environment; the CLI
    serves ``server.url`` once this yields."""
    log = server.root.parent / "terminal.log"
    terminal = Terminal([*DUCKSTRING, *args], server.environment(), server.root.parent, log)
    try:
        assert wait_until(lambda: healthy(server.url) or not terminal.child.isalive(), 60)
        assert terminal.child.isalive(), log.read_text(errors="replace")[-3000:]
        yield terminal
    finally:
        terminal.close()
        print("---- terminal ----")
        print(log.read_text(errors="replace")[-6000:])


def healthy(url: str) -> bool:
    try:
        return httpx.get(f"{url}/api/health", timeout=1).status_code == 200
    except httpx.TransportError:
        return False


def test_ctrl_c_leaves_busy_ducks_running_and_catchment_start_adopts_them(
    tmp_path: Path,
) -> None:
    server = Server(root=tmp_path / "root", home=tmp_path / "home", env=DEMO_ENV)
    projects = demo_projects(server)
    init = ["catchment", "init", "-n", "local", "--root", str(server.root)]
    init += ["-p", str(server.port), "-y"]
    try:
        with on_a_terminal(server, *init) as first:
            deploy(server, projects)
            wave_until_sales_is_mid_run(server)
            before = line_ducks(server.root)
            old = family_of(first.pid)
            server.family.update(old)  # for server.close() to clear away
            helpers = helpers_of(first.pid)
            assert len(helpers) == 2, "a forkserver and a resource tracker"
            began = time.monotonic()
            first.ctrl_c()
            assert time.monotonic() - began < 15, "the stop waited for the runs in flight"
        # Only the busy Ducks went on, detached from the terminal; the forkserver and the
        # resource tracker stay (deaf to the terminal) for as long as those Ducks run.
        left = assert_left_exactly_the_busy_ducks(server, before)
        flying = in_flight(server.root)
        assert still_running(helpers) == sorted(helpers), "they outlive the Catchment"
        with on_a_terminal(server, "catchment", "start", "local") as second:
            restart_and_drain(server, left, flying, old)
            new = family_of(second.pid)
            server.family.update(new)
            # A CLI Catchment keeps idle Ducks warm for a minute; Ctrl+C with nothing in
            # flight stops them all, the adopted ones too.
            second.ctrl_c()
        assert not line_ducks(server.root), "a stop with nothing in flight leaves no Duck"
        assert_gone(old | new, 15, "processes of the two Catchments")
    finally:
        server.close()


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL], ids=["sigterm", "sigkill"])
def test_a_stop_mid_wave_loses_nothing_and_a_restart_adopts_the_busy_ducks(
    tmp_path: Path, sig: int
) -> None:
    server = Server(root=tmp_path / "root", home=tmp_path / "home", env=DEMO_ENV)
    projects = demo_projects(server)
    server.start()
    try:
        server.connect_cli()
        deploy(server, projects)
        wave_until_sales_is_mid_run(server)
        before = line_ducks(server.root)
        old = dict(server.note_family())
        server.stop(sig)
        if sig == signal.SIGTERM:
            left = assert_left_exactly_the_busy_ducks(server, before)
        else:
            # A crash stops nothing: every Duck goes on, the idle ones until they are
            # adopted and stopped, or stop by themselves.
            left = {line: pids[0] for line, pids in line_ducks(server.root).items()}
            assert running_lines(server.root) <= set(left)
        flying = in_flight(server.root)
        server.start()
        restart_and_drain(server, left, flying, old)
        # Idle now, the adopted Ducks stop after their linger; the old forkserver and
        # resource tracker follow them: nothing of the old server is left beside the new one.
        assert_gone(old, 20, "processes of the stopped Catchment")
        new = {server.pid: started_at(server.pid) or 0} | family_of(server.pid)
        assert not unreaped(new), "the new Catchment's processes reap their children"
    finally:
        server.close()


def test_after_a_crash_spares_and_the_forkserver_exit_by_themselves(tmp_path: Path) -> None:
    server = Server(root=tmp_path / "root", home=tmp_path / "home").start()
    try:
        old = server.wait_for(
            lambda c: family_of(server.pid, size=4),
            what="a forkserver, a resource tracker and two spares",
        )
        assert len(helpers_of(server.pid)) == 2
        server.stop(signal.SIGKILL)
        # Nothing was in flight and no Duck ran: the spares see their pipes close and go,
        # and the forkserver and the tracker go once nothing holds them.
        assert_gone(old, 5, "the dead Catchment's spares, forkserver and resource tracker")
    finally:
        server.close()


#: An Inlet whose run takes a second after its first Ripple, each call traced in calls.log.
TRACED = """
import time
from pathlib import Path

def _trace(pond, ripple):
    with open(Path(pond.root).parent / "calls.log", "a") as handle:
        handle.write(f"{pond.name}.{ripple}\\n")

@ripple
def first(pond):
    _trace(pond, "first")
    pond.write_table("first", pond.con.sql("SELECT 1 AS x"))

@ripple(parents=[first])
def slow(pond):
    time.sleep(1.5)
    _trace(pond, "slow")
    pond.write_table("slow", pond.read_table("first"))
"""


def calls(server: Server) -> list[str]:
    log = server.root.parent / "calls.log"
    return log.read_text().split() if log.exists() else []


def test_a_duck_that_no_catchment_adopts_stops_once_its_work_is_done(tmp_path: Path) -> None:
    """Its events wait in its ledger, and the next Catchment on the root takes them from the
    line's next Duck: the run ends in success, and no Ripple runs twice."""
    server = Server(
        root=tmp_path / "root", home=tmp_path / "home", env={"DUCKSTRING_DUCK_ORPHAN": "2"}
    ).start()
    try:
        server.connect_cli()
        server.cli("pond", "deploy", "-y", cwd=write_pond(tmp_path, "work", TRACED, kind="inlet"))
        with server.client() as client:
            assert client.post("/ponds/work/pulse").json() == {"ok": True}
        server.wait_for(lambda c: "work.first" in calls(server), what="the run to begin")
        old = dict(server.note_family())
        server.stop(signal.SIGTERM)
        (duck,) = line_ducks(server.root)["work@1"]
        stopped = time.monotonic()
        assert wait_until(lambda: "work.slow" in calls(server), 10), "it finished its run"
        # Done, and no Catchment answering for 2 s: it stops, and nothing of the server that
        # started it stays once it is gone.
        assert wait_until(lambda: not still_running({duck: old[duck]}), 15)
        assert time.monotonic() - stopped < 2 + 1.5 + 5, "it stopped soon after the bound"
        assert_gone(old, 5, "the forkserver and resource tracker, their last Duck gone")
        server.start()
        server.wait_for(
            lambda c: status(c)["work@1"]["runs_completed"] == 1,
            what="the run the Duck finished to be reported",
        )
        with server.client() as client:
            (run,) = client.get("/runs", params={"pond": "work", "ripples": True}).json()["runs"]
        assert run["status"] == "success"
        assert sorted(a["ripple"] for a in run["ripples"]) == ["first", "slow"]
        assert all(a["status"] == "success" for a in run["ripples"])
        assert sorted(calls(server)) == ["work.first", "work.slow"], "no Ripple ran twice"
    finally:
        server.close()


def test_a_graceful_stop_with_nothing_in_flight_stops_idle_ducks_and_spares(
    tmp_path: Path,
) -> None:
    server = Server(root=tmp_path / "root", home=tmp_path / "home").start()
    try:
        server.connect_cli()
        server.cli("pond", "deploy", "-y", cwd=write_pond(tmp_path, "work", TRACED, kind="inlet"))
        with server.client() as client:
            assert client.post("/ponds/work/pulse").json() == {"ok": True}
        server.wait_for(lambda c: status(c)["work@1"]["runs_completed"] == 1, what="the run to end")
        # The Duck idles (warm for a minute) and two spares wait beside it.
        family = server.wait_for(
            lambda c: family_of(server.pid, size=5),
            what="the idle Duck, two spares, the forkserver and the tracker",
        )
        assert line_ducks(server.root)
        began = time.monotonic()
        server.stop(signal.SIGTERM)
        assert time.monotonic() - began < 10, "waiting Ducks' long polls held the server"
        assert not line_ducks(server.root)
        assert_gone(family, 5, "the idle Duck, the spares, the forkserver and the tracker")
    finally:
        server.close()


def test_a_duck_left_on_a_closed_terminal_still_stops_once_its_work_is_done(
    tmp_path: Path,
) -> None:
    """Ctrl+C, then the terminal closes: every write of the Duck's to it fails from then on,
    and must not keep it from stopping."""
    server = Server(
        root=tmp_path / "root", home=tmp_path / "home", env={"DUCKSTRING_DUCK_ORPHAN": "2"}
    )
    env = {**server.environment(), "DUCKSTRING_ROOT": str(server.root)}
    env["DUCKSTRING_CATCHMENT_URL"] = server.url
    command = [*DUCKSTRING[:1], "-m", "duckstring.catchment", "--port", str(server.port)]
    terminal = Terminal(command, env, tmp_path, tmp_path / "terminal.log")
    try:
        assert wait_until(lambda: healthy(server.url), 60), "the Catchment did not start"
        server.connect_cli()
        server.cli("pond", "deploy", "-y", cwd=write_pond(tmp_path, "work", TRACED, kind="inlet"))
        with server.client() as client:
            assert client.post("/ponds/work/pulse").json() == {"ok": True}
        server.wait_for(lambda c: "work.first" in calls(server), what="the run to begin")
        old = family_of(terminal.pid)
        server.family.update(old)
        terminal.ctrl_c()
        terminal.close()
        (duck,) = line_ducks(server.root)["work@1"]
        assert wait_until(lambda: "work.slow" in calls(server), 10), "it finished its run"
        assert wait_until(lambda: not still_running({duck: old[duck]}), 15), "it stopped"
        assert_gone(old, 5, "the forkserver and resource tracker, their last Duck gone")
    finally:
        terminal.close()
        server.close()
