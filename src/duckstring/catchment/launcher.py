"""Starting and stopping Duck processes. The one module that spawns workers.

Ducks are forked from a forkserver that has already imported DuckDB and the worker, so a new Duck
costs a fork, not a fresh interpreter and DuckDB import. Each Duck leads its own process group,
so ``kill`` ends everything it started; every Duck is reaped when it exits.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from multiprocessing.context import ForkServerContext
from multiprocessing.process import BaseProcess
from typing import Any

#: Modules the forkserver imports once, before it forks any Duck.
PRELOAD = ["duckdb", "duckstring.duck.worker"]


def _duck_entry(config: Any) -> None:
    """Runs in the forked child: its own process group, then the worker."""
    os.setpgid(0, 0)
    from duckstring.duck.worker import run_duck

    raise SystemExit(run_duck(config))


@dataclass
class DuckProcess:
    line: str
    process: BaseProcess
    started_at: float
    stopping: bool = False
    killed: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def pid(self) -> int | None:
        return self.process.pid


class Launcher:
    """The Catchment's Duck processes, one per running line."""

    def __init__(self, make_config: Callable[[str, str, int], Any]) -> None:
        self._make_config = make_config
        self._context: ForkServerContext = multiprocessing.get_context("forkserver")
        self._context.set_forkserver_preload(PRELOAD)
        self.ducks: dict[str, DuckProcess] = {}

    def warm(self) -> None:
        """Start the forkserver now, so the first Duck does not pay for it."""
        from multiprocessing import forkserver

        forkserver.ensure_running()

    def spawn(self, line: str, name: str, major: int) -> DuckProcess:
        process = self._context.Process(
            target=_duck_entry,
            args=(self._make_config(line, name, major),),
            name=f"duck {line}",
            daemon=False,
        )
        process.start()
        duck = DuckProcess(line, process, time.monotonic())
        self.ducks[line] = duck
        return duck

    def alive(self, line: str) -> DuckProcess | None:
        duck = self.ducks.get(line)
        if duck is not None and duck.process.is_alive():
            return duck
        return None

    def kill(self, line: str) -> None:
        """Terminate the line's Duck and everything it started, now."""
        duck = self.ducks.get(line)
        if duck is None or duck.pid is None:
            return
        duck.killed = True
        try:
            os.killpg(duck.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            with contextlib.suppress(ProcessLookupError):
                os.kill(duck.pid, signal.SIGKILL)

    def reap(self, line: str) -> int | None:
        """Collect an exited Duck; its exit code (negative: killed by that signal)."""
        duck = self.ducks.get(line)
        if duck is None:
            return None
        duck.process.join(timeout=0)
        if duck.process.exitcode is None:
            return None
        del self.ducks[line]
        code = duck.process.exitcode
        duck.process.close()
        return code

    def stop_all(self, timeout: float = 5.0) -> None:
        """Terminate every Duck (SIGTERM, then SIGKILL) and reap them."""
        for duck in list(self.ducks.values()):
            if duck.process.is_alive() and duck.pid is not None:
                try:
                    os.killpg(duck.pid, signal.SIGTERM)
                except (ProcessLookupError, PermissionError):
                    duck.process.terminate()
        deadline = time.monotonic() + timeout
        for duck in list(self.ducks.values()):
            duck.process.join(timeout=max(0.0, deadline - time.monotonic()))
            if duck.process.is_alive():
                self.kill(duck.line)
                duck.process.join(timeout=1.0)
        self.ducks.clear()
