"""A real Catchment for the runtime benchmark, and what /proc says about its processes.

The Catchment is ``python -m duckstring.catchment`` (the packaged ASGI app, served as the CLI
serves it) on a free loopback port, configured by the environment only, and stopped by its PID.
Its Ducks are forked children of the forkserver child of the server, so everything it runs is a
descendant of that one PID.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from duckstring.layout import RootLayout

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


# -- /proc ------------------------------------------------------------------------------------


def _stat_fields(pid: int) -> list[str] | None:
    """Fields of /proc/PID/stat after the command name (index 0 is the state)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None


def all_pids() -> list[int]:
    return [int(entry.name) for entry in Path("/proc").iterdir() if entry.name.isdigit()]


def descendants(pid: int) -> list[int]:
    """Every descendant process id of ``pid``."""
    children: dict[int, list[int]] = {}
    for other in all_pids():
        fields = _stat_fields(other)
        if fields is not None:
            children.setdefault(int(fields[1]), []).append(other)
    found, frontier = [], [pid]
    while frontier:
        for child in children.get(frontier.pop(), []):
            found.append(child)
            frontier.append(child)
    return found


def start_ticks(pid: int) -> int | None:
    """When the process started (clock ticks after boot): with the PID, its identity."""
    fields = _stat_fields(pid)
    return None if fields is None else int(fields[19])


def state(pid: int) -> str | None:
    fields = _stat_fields(pid)
    return None if fields is None else fields[0]


def zombies(pids: list[int] | None = None) -> list[int]:
    """Processes in state Z, among ``pids`` or on the whole machine."""
    return [pid for pid in (all_pids() if pids is None else pids) if state(pid) == "Z"]


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
    for member in [pid, *descendants(pid)]:
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


@dataclass
class CatchmentProcess:
    """A Catchment serving ``workdir/root``, with ``DUCKSTRING_HOME`` at ``workdir/home``."""

    workdir: Path
    env: dict[str, str] = field(default_factory=dict)
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None
    #: Descendants seen while running (PID -> start time): checked again after the stop.
    seen: dict[int, int] = field(default_factory=dict)
    #: How long the server took to exit after SIGTERM, and whether it had to be killed.
    stop_seconds: float = 0.0
    stop_killed: bool = False
    #: Ducks the stop left running because their line had a run in flight (then killed).
    left_at_work: list[int] = field(default_factory=list)

    @property
    def root(self) -> Path:
        return self.workdir / "root"

    @property
    def log(self) -> Path:
        return self.workdir / "server.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def start(self, timeout: float = 60.0) -> CatchmentProcess:
        (self.workdir / "home").mkdir(parents=True, exist_ok=True)
        env = {
            **os.environ,
            "DUCKSTRING_HOME": str(self.workdir / "home"),
            "DUCKSTRING_ROOT": str(self.root),
            "DUCKSTRING_CATCHMENT_URL": self.url,
            **self.env,
        }
        env.pop("DUCKSTRING_API_KEY", None)
        command = [sys.executable, "-m", "duckstring.catchment"]
        command += ["--host", "127.0.0.1", "--port", str(self.port), "--log-level", "warning"]
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(
                command, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=self.workdir
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the Catchment exited:\n{self.log_tail()}")
            try:
                if httpx.get(f"{self.url}/api/health", timeout=1).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"the Catchment did not answer within {timeout:g} s:\n{self.log_tail()}")

    def client(self, timeout: float = 120.0) -> httpx.Client:
        return httpx.Client(base_url=f"{self.url}/api", timeout=timeout)

    def log_tail(self, chars: int = 3000) -> str:
        try:
            return self.log.read_text(errors="replace")[-chars:]
        except OSError:
            return ""

    def descendants(self) -> list[int]:
        if self.process is None or self.process.poll() is not None:
            return []
        found = descendants(self.pid)
        for pid in found:
            ticks = start_ticks(pid)
            if ticks is not None:
                self.seen.setdefault(pid, ticks)
        return found

    def duck_pids(self, alive: Iterable[int] | None = None) -> dict[int, str]:
        """Live Duck processes by PID, named by the line whose ``duck.lock`` they hold
        (``alive``: the descendants, when the caller has just listed them)."""
        layout = RootLayout(self.root)
        alive = set(self.descendants() if alive is None else alive)
        ducks: dict[int, str] = {}
        if not layout.ponds.is_dir():
            return ducks
        for line, lock in layout.duck_locks().items():
            try:
                words = lock.read_text().split()
            except OSError:
                continue
            if len(words) == 2 and words[0] == "pid" and words[1].isdigit():
                pid = int(words[1])
                if pid in alive:
                    ducks[pid] = line
        return ducks

    def lingering(self) -> list[int]:
        """Descendants seen while the server ran that still exist (and are not zombies)."""
        return [
            pid
            for pid, ticks in sorted(self.seen.items())
            if start_ticks(pid) == ticks and state(pid) not in (None, "Z")
        ]

    def ducks_at_work(self) -> list[int]:
        """Ducks seen under the server that still run on a line with a run in flight in its
        ``duck.db``: a graceful stop leaves those running, to report to the next Catchment."""
        database = self.root / "duck.db"
        if not database.exists():
            return []
        with contextlib.closing(sqlite3.connect(database)) as con:
            rows = con.execute("SELECT DISTINCT line FROM runs WHERE status = 'running'")
            busy = {str(row[0]) for row in rows}
        alive = set(self.lingering())
        return [pid for pid, line in self.duck_pids(alive).items() if line in busy]

    def stop(self, timeout: float = 60.0) -> list[int]:
        """SIGTERM the server by its PID (SIGKILL after ``timeout``); returns the PIDs of its
        descendants still alive 5 s after it exited (each is then killed by its PID), but for
        the Ducks it left running with work in flight (``left_at_work``: killed at once).
        ``stop_seconds`` and ``stop_killed`` say how the stop went."""
        if self.process is None:
            return []
        self.descendants()
        if self.process.poll() is None:
            began = time.monotonic()
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
                self.stop_killed = True
            self.stop_seconds = time.monotonic() - began
        self.left_at_work = self.ducks_at_work()
        for pid in self.left_at_work:  # the benchmark is over: they need not finish
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pid, signal.SIGKILL)
        # The forkserver notices its parent is gone on its own (and its last Duck): give it a
        # moment to do so.
        grace = time.monotonic() + 5.0
        left = self.lingering()
        while left and time.monotonic() < grace:
            time.sleep(0.05)
            left = self.lingering()
        for pid in left:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
        return left
