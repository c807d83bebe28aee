"""The suite's real Catchment: :mod:`duckstring.testing`, with the suite's own defaults."""

from __future__ import annotations

from pathlib import Path

from duckstring import testing
from duckstring.testing import (
    CLI_COMMAND,
    catchment_init,
    children_of,
    duck_pids,
    free_port,
    interrupt,
    line_ducks,
    parent_of,
    running_lines,
    started_at,
    status_of,
    still_running,
    unreaped,
    wait_healthy,
    wait_until,
    zombies,
)

#: The repository.
ROOT = Path(__file__).resolve().parents[2]
DUCKSTRING = CLI_COMMAND

__all__ = [
    "DUCKSTRING",
    "ROOT",
    "Server",
    "catchment_init",
    "children_of",
    "duck_pids",
    "free_port",
    "interrupt",
    "line_ducks",
    "parent_of",
    "running_lines",
    "started_at",
    "status_of",
    "still_running",
    "unreaped",
    "wait_healthy",
    "wait_until",
    "zombies",
]


class Server(testing.Server):
    """A Catchment whose demo Ponds run at a twentieth of their durations, unless the test's
    environment says otherwise."""

    def environment(self) -> dict[str, str]:
        env = super().environment()
        env.setdefault("DUCKSTRING_DEMO_SCALE", "0.05")
        return env
