"""A real Catchment in a process of its own: started on a free loopback port, stopped by its
PID, and cleared away with everything it started."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

import httpx

from duckstring.layout import RootLayout
from duckstring.testing.processes import (
    children_of,
    kill_group,
    line_ducks,
    started_at,
    still_running,
)

#: The ``duckstring`` command, run by this interpreter (so by this installation).
CLI_COMMAND = [sys.executable, "-m", "duckstring.cli"]

API_KEY_ENV = "DUCKSTRING_API_KEY"

T = TypeVar("T")


def free_port() -> int:
    """A TCP port free on 127.0.0.1 now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_until(condition: Callable[[], T], timeout: float, poll: float = 0.05) -> T:
    """``condition()`` once it is true, or its last (false) value after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(poll)


def running_lines(root: Path) -> set[str]:
    """The lines with a run in flight in the root's ``duck.db``: what its last Catchment
    had begun and not seen end, as it stopped."""
    database = RootLayout(root).database
    if not database.exists():
        return set()
    with contextlib.closing(sqlite3.connect(database)) as con:
        rows = con.execute("SELECT DISTINCT line FROM runs WHERE status = 'running'").fetchall()
    return {str(row[0]) for row in rows}


@dataclass(frozen=True)
class Leftovers:
    """What still ran after a Catchment stopped (:meth:`Server.clear` kills all of it)."""

    #: Ducks on lines with no run in flight, by line: a graceful stop must have stopped them.
    idle_ducks: dict[str, list[int]]
    #: Ducks on lines with a run in flight, by line: a graceful stop leaves them working.
    busy_ducks: dict[str, list[int]]
    #: Processes started under the Catchment (forkservers, spares, resource trackers...)
    #: still running once its Ducks were gone.
    outlived: list[int]


@dataclass
class Server:
    """A Catchment process serving ``root`` on ``port`` of 127.0.0.1, with ``home`` as the
    Duckstring home of it and of :meth:`cli`.

    Start it with :meth:`start` (or ``with``), stop it with :meth:`stop` (and start it again on
    the same root), and end with :meth:`close`, which clears away whatever it left running.
    """

    root: Path
    home: Path
    port: int = field(default_factory=free_port)
    #: The API key it requires (``DUCKSTRING_API_KEY``); None: open.
    key: str | None = None
    #: Environment variables for the server and the CLI, over the inherited ones.
    env: dict[str, str] = field(default_factory=dict)
    process: subprocess.Popen[bytes] | None = None
    #: Where the server writes; by default ``server-PORT.log`` beside the root.
    log: Path | None = None
    #: Every process seen under this server's processes so far (pid -> start time): its
    #: forkservers, resource trackers, Ducks and spares, across restarts.
    family: dict[int, int] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        if self.process is None:
            raise RuntimeError("the Catchment has not been started")
        return self.process.pid

    def environment(self) -> dict[str, str]:
        """The environment of the CLI run by :meth:`cli` (the server's adds its root)."""
        env = {**os.environ, "DUCKSTRING_HOME": str(self.home), **self.env}
        env["COLUMNS"] = "200"  # rich tables at full width through a pipe
        return env

    def start(self, timeout: float = 30.0) -> Server:
        """Start the Catchment and wait until it answers its health check; raises
        ``RuntimeError`` (with the end of its log) if it exits or does not answer in time."""
        self.root.parent.mkdir(parents=True, exist_ok=True)
        if self.log is None:
            self.log = self.root.parent / f"server-{self.port}.log"
        env = self.environment()
        env["DUCKSTRING_ROOT"] = str(self.root)
        env["DUCKSTRING_CATCHMENT_URL"] = self.url
        if API_KEY_ENV not in self.env:
            env.pop(API_KEY_ENV, None)  # the key is ``key``, not one this process inherited
        if self.key:
            env[API_KEY_ENV] = self.key
        command = [sys.executable, "-m", "duckstring.catchment"]
        command += ["--host", "127.0.0.1", "--port", str(self.port), "--log-level", "warning"]
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(
                command, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=self.root.parent
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the Catchment exited: {self.log_tail()}")
            try:
                if httpx.get(f"{self.url}/api/health", timeout=1).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"the Catchment did not start: {self.log_tail()}")

    def __enter__(self) -> Server:
        return self.start()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def log_tail(self, chars: int = 3000) -> str:
        """The last ``chars`` characters the server wrote."""
        try:
            return "" if self.log is None else self.log.read_text(errors="replace")[-chars:]
        except OSError:
            return ""

    def note_family(self) -> dict[int, int]:
        """Add the server's descendants now (and theirs, for those seen before) to
        :attr:`family`; returns it."""
        roots = [self.pid] if self.process is not None and self.process.poll() is None else []
        roots += still_running(self.family)
        for pid in children_of(*roots):
            start = started_at(pid)
            if start is not None:
                self.family.setdefault(pid, start)
        return self.family

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 20.0) -> bool:
        """Signal the server and wait for it to exit (SIGKILL after ``timeout``): False if it
        had to be killed. What it leaves running is noted in :attr:`family`; :meth:`clear`
        clears it away."""
        if self.process is None or self.process.poll() is not None:
            return True
        self.note_family()
        os.kill(self.pid, sig)
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.kill(self.pid, signal.SIGKILL)
            self.process.wait(timeout=10)
            return False
        return True

    def clear(self, grace: float = 15.0) -> Leftovers:
        """Once the server has stopped: kill the Ducks it left (each holding a line's lock),
        give everything else started under it, now or before a restart, ``grace`` seconds to
        end on its own, then kill what remains. Returns what was found."""
        left = line_ducks(self.root)
        busy = running_lines(self.root)
        for pids in left.values():
            for pid in pids:
                kill_group(pid)
        family = self.note_family()
        wait_until(lambda: not still_running(family), grace)
        remaining = still_running(family)
        for pid in remaining:  # known by their start time: none is another's process
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
        return Leftovers(
            idle_ducks={line: pids for line, pids in left.items() if line not in busy},
            busy_ducks={line: pids for line, pids in left.items() if line in busy},
            outlived=remaining,
        )

    def close(self, timeout: float = 20.0) -> None:
        """Stop the server for good (SIGTERM) and clear away what it leaves.

        A graceful stop leaves running only the Ducks that have work in flight: each Duck
        still holding a line's lock must be on a line with a run in flight in ``duck.db``.
        Those are then killed (the test is over), and within seconds nothing started under
        this server, now or before a restart, may remain: not a spare, a Duck, a forkserver or
        a resource tracker. Raises ``AssertionError`` naming what broke either rule.
        """
        self.stop(timeout=timeout)
        left = self.clear()
        if left.idle_ducks:
            raise AssertionError(
                f"the Catchment left Ducks with no work in flight running: {left.idle_ducks}"
            )
        if left.outlived:
            raise AssertionError(f"processes of the Catchment outlived its Ducks: {left.outlived}")

    def client(self, timeout: float = 30.0) -> httpx.Client:
        """An HTTP client of the server's ``/api``, sending its key."""
        headers = {"Authorization": f"Bearer {self.key}"} if self.key else {}
        return httpx.Client(base_url=f"{self.url}/api", headers=headers, timeout=timeout)

    def cli(
        self,
        *args: str,
        cwd: Path | None = None,
        input: str | None = None,
        check: bool = True,
        timeout: float = 120,
    ) -> subprocess.CompletedProcess[str]:
        """``duckstring ARGS…`` in :meth:`environment`; raises ``AssertionError`` with its output
        if it fails and ``check`` is set."""
        result = subprocess.run(
            [*CLI_COMMAND, *args],
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

    def wait_for(
        self, predicate: Callable[[httpx.Client], T], timeout: float = 30.0, what: str = "condition"
    ) -> T:
        """``predicate(client)`` once it is true; raises ``AssertionError`` after ``timeout``."""
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
    ponds = client.get("/status").json()["ponds"]
    return dict(next(p for p in ponds if p["id"] == line))


def wait_healthy(url: str, process: subprocess.Popen[str], timeout: float = 60) -> None:
    """Until ``url`` answers its health check; raises ``AssertionError`` at once if
    ``process`` (the server) ended, or after ``timeout``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(process.communicate()[0])
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
        [*CLI_COMMAND, "catchment", "init", "-p", str(port), *options],
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
