"""A real Catchment for tests and scripts: Duckstring's own suite and benchmarks use it, and so
can a Pond's tests or an operator's checks.

:class:`Server` starts ``python -m duckstring.catchment`` (the packaged app, configured by the
environment only) on a free 127.0.0.1 port in a process of its own, waits for its health check,
hands out an HTTP client of its ``/api`` (with its key, if it has one) and runs the CLI against
it. It stops by its PID, gracefully or with SIGKILL, can start again on the same root, and
:meth:`Server.close` clears away what a stop leaves: a graceful stop leaves running only the Ducks
with work in flight, and nothing else started under the server may outlive them.
:mod:`duckstring.testing.processes` reads ``/proc`` for the rest: a process tree, zombies, and
each line's Duck (the process holding its ``duck.lock``). Linux only; no test framework needed.

A Pond's test, deploying the project it lives in and running it once::

    from pathlib import Path

    from duckstring.testing import Server, status_of

    PROJECT = Path(__file__).parents[1]  # the folder holding pond.toml

    def test_a_pulse_publishes_the_tables(tmp_path: Path) -> None:
        with Server(root=tmp_path / "root", home=tmp_path / "home") as catchment:
            catchment.connect_cli()
            catchment.cli("pond", "deploy", cwd=PROJECT)
            catchment.cli("trigger", "pulse", "my_pond")
            catchment.wait_for(
                lambda client: status_of(client, "my_pond@1")["runs_completed"] >= 1,
                timeout=60,
                what="the first run of my_pond",
            )
            with catchment.client() as client:
                sql = "SELECT count(*) AS n FROM my_table"
                rows = client.post("/query", json={"pond": "my_pond", "sql": sql}).json()
            assert rows == [{"n": 3}]
"""

from duckstring.testing.processes import (
    children_of,
    duck_pids,
    kill_group,
    line_ducks,
    parent_of,
    started_at,
    state_of,
    still_running,
    unreaped,
    zombies,
)
from duckstring.testing.server import (
    CLI_COMMAND,
    Leftovers,
    Server,
    catchment_init,
    free_port,
    interrupt,
    running_lines,
    status_of,
    wait_healthy,
    wait_until,
)

__all__ = [
    "CLI_COMMAND",
    "Leftovers",
    "Server",
    "catchment_init",
    "children_of",
    "duck_pids",
    "free_port",
    "interrupt",
    "kill_group",
    "line_ducks",
    "parent_of",
    "running_lines",
    "started_at",
    "state_of",
    "status_of",
    "still_running",
    "unreaped",
    "wait_healthy",
    "wait_until",
    "zombies",
]
