"""``duckstring.testing``: the process tree and the Ducks as ``/proc`` shows them, and a real
Catchment used the way its documentation shows a Pond's own test using it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from duckstring.layout import RootLayout
from duckstring.testing import (
    Server,
    children_of,
    duck_pids,
    kill_group,
    line_ducks,
    parent_of,
    started_at,
    state_of,
    status_of,
    still_running,
    unreaped,
    wait_until,
    zombies,
)
from e2e.projects import COUNTER, write_pond

#: A process that starts one child of its own and waits on it.
PARENT = "import subprocess; subprocess.Popen(['sleep', '60']).wait()"
#: A process that holds the file named by its argument open, then says so.
HOLDER = "import sys, time; f = open(sys.argv[1]); print('ready', flush=True); time.sleep(60)"


def test_a_process_tree_is_found_watched_and_killed_as_a_group() -> None:
    parent = subprocess.Popen([sys.executable, "-c", PARENT], start_new_session=True)
    try:
        [child] = wait_until(lambda: children_of(parent.pid), 10)
        assert parent_of(child) == parent.pid
        assert children_of(parent.pid, child) == [child]  # each descendant once
        family = {pid: started_at(pid) or 0 for pid in (parent.pid, child)}
        assert still_running(family) == sorted(family)
        assert still_running({child: family[child] + 1}) == []  # another process, same pid
        kill_group(parent.pid)
        # Killed and not yet reaped by this process, its parent: a zombie of ours.
        assert wait_until(lambda: state_of(parent.pid) == "Z", 10)
        assert parent.pid in zombies([parent.pid, child])
        assert parent.pid in unreaped({os.getpid(): started_at(os.getpid()) or 0})
        assert wait_until(lambda: not still_running(family), 10)
    finally:
        parent.kill()
        parent.wait()
    assert state_of(parent.pid) is None
    assert started_at(parent.pid) is None


def test_a_lines_duck_is_the_process_holding_its_lock(tmp_path: Path) -> None:
    root = tmp_path / "root"
    layout = RootLayout(root)
    assert line_ducks(root) == {}  # no root yet
    for name, major in (("alpha", 1), ("beta", 2)):
        layout.duck_lock(name, major).parent.mkdir(parents=True)
        layout.duck_lock(name, major).touch()
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(layout.duck_lock("beta", 2))],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "ready\n"
        assert line_ducks(root) == {"beta@2": [holder.pid]}
        assert line_ducks(root, among=[holder.pid]) == {"beta@2": [holder.pid]}
        assert line_ducks(root, among=[parent_of(holder.pid) or 0]) == {}
        assert duck_pids(root) == {"beta": [holder.pid]}
    finally:
        holder.kill()
        holder.wait()
    assert line_ducks(root) == {}


def test_a_test_not_marked_slow_may_not_start_a_catchment(tmp_path: Path) -> None:
    server = Server(root=tmp_path / "root", home=tmp_path / "home")
    try:
        with pytest.raises(pytest.fail.Exception, match="not marked slow"):
            server.start()
    finally:
        if server.process is not None:  # the guard let it start: do not leave it running
            server.close()
    assert server.process is None


@pytest.mark.slow
def test_a_ponds_own_test_deploys_runs_and_queries_its_pond(tmp_path: Path) -> None:
    project = write_pond(tmp_path / "projects", "counter", COUNTER, kind="inlet")
    with Server(root=tmp_path / "root", home=tmp_path / "home") as catchment:
        catchment.connect_cli()
        catchment.cli("pond", "deploy", cwd=project)
        catchment.cli("trigger", "pulse", "counter")
        catchment.wait_for(
            lambda client: status_of(client, "counter@1")["runs_completed"] >= 1,
            timeout=60,
            what="the first run of counter",
        )
        with catchment.client() as client:
            sql = "SELECT n FROM numbers"
            rows = client.post("/query", json={"pond": "counter", "sql": sql}).json()
        assert rows == [{"n": 1}]
        # One Catchment per root: a second one exits, and start() says so with its log.
        second = Server(root=catchment.root, home=tmp_path / "home")
        with pytest.raises(RuntimeError, match="the Catchment exited"):
            second.start()
        assert second.process is not None and second.process.poll() is not None
        assert catchment.process is not None and catchment.process.poll() is None
    assert catchment.family, "its forkserver and Ducks were seen"
    assert still_running(catchment.family) == []
    assert line_ducks(catchment.root) == {}
