"""A real Catchment for the runtime benchmark, and what /proc says about what its processes cost.

The Catchment is :class:`duckstring.testing.Server` (the packaged ASGI app, served as the CLI
serves it, on a free loopback port, configured by the environment only, stopped by its PID).
Its Ducks are forked children of the forkserver child of the server, so everything it runs is a
descendant of that one PID.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable
from pathlib import Path

import httpx

from duckstring.testing import Server, children_of, line_ducks, started_at

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


# -- /proc ------------------------------------------------------------------------------------


def _stat_fields(pid: int) -> list[str] | None:
    """Fields of /proc/PID/stat after the command name (index 0 is the state)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None


def cpu_seconds(pid: int) -> float | None:
    """User plus system CPU time the process has used so far."""
    fields = _stat_fields(pid)
    if fields is None:
        return None
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def tree_cpu_seconds(pid: int) -> tuple[float, float]:
    """``(own, tree)``: CPU time of ``pid`` itself, and of it with every descendant, living or
    already reaped (a reaped child's time is in its parent's cutime/cstime)."""
    own = tree = 0.0
    for member in [pid, *children_of(pid)]:
        fields = _stat_fields(member)
        if fields is None:
            continue
        used = (int(fields[11]) + int(fields[12])) / CLOCK_TICKS
        tree += used + (int(fields[13]) + int(fields[14])) / CLOCK_TICKS
        if member == pid:
            own = used
    return own, tree


def memory_kib(pid: int) -> tuple[int, int] | None:
    """``(rss, pss)`` in KiB from /proc/PID/smaps_rollup; ``None`` if the process is gone."""
    try:
        text = Path(f"/proc/{pid}/smaps_rollup").read_text()
    except OSError:
        return None
    values = {}
    for line in text.splitlines():
        key, _, rest = line.partition(":")
        if key in ("Rss", "Pss"):
            values[key] = int(rest.split()[0])
    if "Rss" not in values or "Pss" not in values:
        return None
    return values["Rss"], values["Pss"]


# -- the server -------------------------------------------------------------------------------


class CatchmentProcess(Server):
    """An open Catchment serving ``workdir/root``, with ``DUCKSTRING_HOME`` at ``workdir/home``
    and its log in ``workdir/server.log``; stopped with :meth:`shut_down`, which says how."""

    def __init__(self, workdir: Path, env: dict[str, str] | None = None) -> None:
        super().__init__(
            root=workdir / "root",
            home=workdir / "home",
            env=dict(env or {}),
            log=workdir / "server.log",
        )
        self.workdir = workdir
        #: How long the server took to exit after SIGTERM, and whether it had to be killed.
        self.stop_seconds = 0.0
        self.stop_killed = False
        #: Ducks the stop left running because their line had a run in flight (then killed).
        self.left_at_work: list[int] = []

    def start(self, timeout: float = 60.0) -> CatchmentProcess:
        self.home.mkdir(parents=True, exist_ok=True)
        super().start(timeout)
        return self

    def client(self, timeout: float = 120.0) -> httpx.Client:
        return super().client(timeout)

    def descendants(self) -> list[int]:
        """The server's descendants now (none once it exited), each noted in ``family``."""
        if self.process is None or self.process.poll() is not None:
            return []
        found = children_of(self.pid)
        for pid in found:
            ticks = started_at(pid)
            if ticks is not None:
                self.family.setdefault(pid, ticks)
        return found

    def duck_pids(self, alive: Iterable[int] | None = None) -> dict[int, str]:
        """Live Duck processes by PID, named by the line whose ``duck.lock`` they hold
        (``alive``: the descendants, when the caller has just listed them)."""
        among = self.descendants() if alive is None else alive
        return {pid: line for line, pids in line_ducks(self.root, among).items() for pid in pids}

    def shut_down(self, timeout: float = 60.0) -> list[int]:
        """SIGTERM the server by its PID (SIGKILL after ``timeout``); returns the PIDs of what
        it started that still ran 5 s after it exited (each then killed by its PID), but for
        the Ducks it left running with work in flight (``left_at_work``: killed at once).
        ``stop_seconds`` and ``stop_killed`` say how the stop went."""
        if self.process is None:
            return []
        if self.process.poll() is None:
            began = time.monotonic()
            self.stop_killed = not self.stop(timeout=timeout)
            self.stop_seconds = time.monotonic() - began
        # The forkserver notices its parent is gone on its own (and its last Duck): give it a
        # moment to do so.
        left = self.clear(grace=5.0)
        self.left_at_work = sorted(pid for pids in left.busy_ducks.values() for pid in pids)
        idle = [pid for pids in left.idle_ducks.values() for pid in pids]
        return sorted([*idle, *left.outlived])
