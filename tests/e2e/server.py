"""A real Catchment for tests: a subprocess on a free loopback port, stopped by its PID."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
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
    """Processes holding each line's duck.lock open (a Duck holds it for its lifetime)."""
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
                holders.setdefault(lock.parent.parent.name, []).append(int(entry.name))
    return holders


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

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 20.0) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        os.kill(self.pid, sig)
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.kill(self.pid, signal.SIGKILL)
            self.process.wait(timeout=10)

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
