"""A real Catchment for tests: a subprocess on a free loopback port, stopped by its PID."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[2]
DUCKSTRING = [sys.executable, "-m", "duckstring.cli"]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def children_of(pid: int) -> list[int]:
    """Every descendant process id of ``pid`` (from /proc)."""
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents.setdefault(int(fields[1]), []).append(int(entry.name))
    found, frontier = [], [pid]
    while frontier:
        for child in parents.get(frontier.pop(), []):
            found.append(child)
            frontier.append(child)
    return found


def zombies() -> list[int]:
    out = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
            except OSError:
                continue
            if state == "Z":
                out.append(int(entry.name))
    return out


def duck_pids(root: Path) -> dict[str, list[int]]:
    """Processes holding each Pond's duck.lock open (a Duck holds it for its lifetime)."""
    by_pond: dict[str, list[int]] = {}
    for line, pids in line_ducks(root).items():
        by_pond.setdefault(line.rpartition("@")[0], []).extend(pids)
    return by_pond


def line_ducks(root: Path) -> dict[str, list[int]]:
    """Processes holding each line's duck.lock open, by line (``name@major``)."""
    holders: dict[str, list[int]] = {}
    locks = {str(p.resolve()): p for p in root.glob("ponds/*/m*/duck.lock")}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            descriptors = list((entry / "fd").iterdir())
        except OSError:
            continue  # the process ended, or is not ours to read
        targets = set()
        for fd in descriptors:
            # A busy process closes files between the listing and the read (a Duck exporting
            # Parquet does): skip that descriptor, not the whole process.
            with contextlib.suppress(OSError):
                targets.add(os.readlink(fd))
        for path, lock in locks.items():
            if path in targets:
                line = f"{lock.parent.parent.name}@{lock.parent.name[1:]}"
                holders.setdefault(line, []).append(int(entry.name))
    return holders


def started_at(pid: int) -> int | None:
    """When process ``pid`` started (clock ticks since boot): with its pid, it names one
    process, not whichever later takes the number. None if there is no such process."""
    try:
        return int((Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[19])
    except (OSError, IndexError, ValueError):
        return None


def state_of(pid: int) -> str | None:
    """The process's state letter (``Z``: a zombie), or None if there is no such process."""
    try:
        return (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return None


def parent_of(pid: int) -> int | None:
    try:
        return int((Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return None


def still_running(seen: dict[int, int]) -> list[int]:
    """The processes of ``seen`` (pid -> start time) that still run: neither gone, nor
    zombies (a zombie's parent is the one to reap it; see :func:`unreaped`)."""
    return [
        pid
        for pid, start in sorted(seen.items())
        if started_at(pid) == start and state_of(pid) not in (None, "Z", "X")
    ]


def unreaped(parents: dict[int, int]) -> list[int]:
    """Zombies whose parent is one of ``parents`` (pid -> start time), still running: a
    process of ours that does not reap its children. (An orphan's zombie belongs to init.)"""
    alive = set(still_running(parents))
    return [pid for pid in zombies() if parent_of(pid) in alive]


def running_lines(root: Path) -> set[str]:
    """The lines with a run in flight in the root's ``duck.db``: what its last Catchment
    had begun and not seen end, as it stopped."""
    database = root / "duck.db"
    if not database.exists():
        return set()
    with contextlib.closing(sqlite3.connect(database)) as con:
        rows = con.execute("SELECT DISTINCT line FROM runs WHERE status = 'running'").fetchall()
    return {str(row[0]) for row in rows}


def kill_group(pid: int) -> None:
    """SIGKILL the process group ``pid`` leads (a Duck's: everything it started)."""
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def wait_until(condition: Any, timeout: float, poll: float = 0.05) -> Any:
    """``condition()`` once it is true, or its last (false) value after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(poll)


@dataclass
class Server:
    """A Catchment process serving ``root`` on ``port``."""

    root: Path
    home: Path
    port: int = field(default_factory=free_port)
    key: str | None = None
    env: dict[str, str] = field(default_factory=dict)
    process: subprocess.Popen[bytes] | None = None
    log: Path | None = None
    #: Every process seen under this server's processes so far (pid -> start time): its
    #: forkservers, resource trackers, Ducks and spares, across restarts.
    family: dict[int, int] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def environment(self) -> dict[str, str]:
        env = {**os.environ, "DUCKSTRING_HOME": str(self.home), **self.env}
        env.setdefault("DUCKSTRING_DEMO_SCALE", "0.05")
        env["COLUMNS"] = "200"  # rich tables at full width through a pipe
        return env

    def start(self, timeout: float = 30.0) -> Server:
        self.log = self.root.parent / f"server-{self.port}.log"
        env = self.environment()
        env["DUCKSTRING_ROOT"] = str(self.root)
        env["DUCKSTRING_CATCHMENT_URL"] = self.url
        if self.key:
            env["DUCKSTRING_API_KEY"] = self.key
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "duckstring.catchment",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(self.port),
                    "--log-level",
                    "warning",
                ],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.root.parent,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the Catchment exited: {self.log.read_text()[-3000:]}")
            try:
                if httpx.get(f"{self.url}/api/health", timeout=1).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.05)
        raise RuntimeError(f"the Catchment did not start: {self.log.read_text()[-3000:]}")

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def note_family(self) -> dict[int, int]:
        """Add the server's descendants now (and theirs, for those seen before) to
        :attr:`family`; returns it."""
        roots = [self.pid] if self.process is not None and self.process.poll() is None else []
        roots += still_running(self.family)
        for root in roots:
            for pid in children_of(root):
                start = started_at(pid)
                if start is not None:
                    self.family.setdefault(pid, start)
        return self.family

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 20.0) -> None:
        """Signal the server and wait for it to exit (SIGKILL after ``timeout``). What it
        leaves running is noted in :attr:`family`; :meth:`close` clears it away."""
        if self.process is None or self.process.poll() is not None:
            return
        self.note_family()
        os.kill(self.pid, sig)
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.kill(self.pid, signal.SIGKILL)
            self.process.wait(timeout=10)

    def close(self, timeout: float = 20.0) -> None:
        """Stop the server for good (SIGTERM) and clear away what it leaves.

        A graceful stop leaves running only the Ducks that have work in flight: each Duck
        still holding a line's lock must be on a line with a run in flight in ``duck.db``.
        Those are then killed (the test is over), and within seconds nothing started under
        this server, now or before a restart, may remain: not a spare, a Duck, a forkserver or
        a resource tracker.
        """
        self.stop(timeout=timeout)
        left = line_ducks(self.root)
        idle = {line: pids for line, pids in left.items() if line not in running_lines(self.root)}
        for pids in left.values():
            for pid in pids:
                kill_group(pid)
        assert not idle, f"the Catchment left Ducks with no work in flight running: {idle}"
        family = self.note_family()
        wait_until(lambda: not still_running(family), 15.0)
        remaining = still_running(family)
        for pid in remaining:  # not to leak them into later tests: they are known by start time
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        assert not remaining, f"processes of the Catchment outlived its Ducks: {remaining}"

    def client(self) -> httpx.Client:
        headers = {"Authorization": f"Bearer {self.key}"} if self.key else {}
        return httpx.Client(base_url=f"{self.url}/api", headers=headers, timeout=30)

    def cli(
        self,
        *args: str,
        cwd: Path | None = None,
        input: str | None = None,
        check: bool = True,
        timeout: float = 120,
    ) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [*DUCKSTRING, *args],
            cwd=cwd or self.root.parent,
            env=self.environment(),
            input=input,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if check and result.returncode != 0:
            raise AssertionError(
                f"duckstring {' '.join(args)} exited {result.returncode}:\n"
                f"{result.stdout}\n{result.stderr}"
            )
        return result

    def connect_cli(self) -> None:
        """Register this server for the CLI as the default Catchment."""
        args = ["catchment", "connect", "-n", "test", "--path", self.url, "-y"]
        if self.key:
            args += ["--key", self.key]
        self.cli(*args)

    def wait_for(self, predicate: Any, timeout: float = 30.0, what: str = "condition") -> Any:
        deadline = time.monotonic() + timeout
        with self.client() as client:
            while True:
                value = predicate(client)
                if value:
                    return value
                if time.monotonic() > deadline:
                    raise AssertionError(f"timed out waiting for {what}")
                time.sleep(0.05)


def status_of(client: httpx.Client, line: str) -> dict[str, Any]:
    """One line's entry of ``GET /api/status`` (``client`` from :meth:`Server.client`)."""
    return next(p for p in client.get("/status").json()["ponds"] if p["id"] == line)


def wait_healthy(url: str, process: subprocess.Popen[str], timeout: float = 60) -> None:
    """Until ``url`` answers its health check; fails at once if ``process`` (the server) ended."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, process.communicate()[0]
        try:
            if httpx.get(f"{url}/api/health", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"the local Catchment at {url} did not start")


def catchment_init(
    helper: Server, port: int, *options: str, env: dict[str, str] | None = None
) -> subprocess.Popen[str]:
    """``duckstring catchment init -p PORT OPTIONS…`` in the foreground, as a user starts one
    (``helper`` lends its environment); it serves on ``port`` when this returns."""
    process = subprocess.Popen(
        [*DUCKSTRING, "catchment", "init", "-p", str(port), *options],
        env={**helper.environment(), **(env or {})},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    wait_healthy(f"http://127.0.0.1:{port}", process)
    return process


def interrupt(process: subprocess.Popen[str]) -> str:
    """Ctrl+C for a foreground Catchment; what it printed."""
    process.send_signal(signal.SIGINT)
    out, _ = process.communicate(timeout=30)
    return out
