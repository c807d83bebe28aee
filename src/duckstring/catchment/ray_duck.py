"""A Duck inside a cluster actor: the class the Ray launcher makes a detached, named actor of.

The Duck is the same code as a forked one (:func:`~duckstring.duck.worker.run_duck`): it dials
the Catchment, keeps its ledger and outlives the Catchment that started it. The actor is only
its envelope. It runs the Duck on one of its threads (``run``) and answers, on the others,
where it runs, whether its Duck still runs (for a restarted Catchment that looks for it by
name), when it ends (``wait``), what it holds in memory, and a request to stop.

This module imports nothing of Ray's at import time (nor the Catchment's server): the Ray
launcher wraps :class:`DuckActor` with ``ray.remote`` and Ray's worker imports it by name.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from typing import Any

from duckstring.catchment.processes import process_memory, resident_memory

#: How long an actor whose Duck ended waits for its Catchment to collect it before it exits by
#: itself (a Catchment that watches it kills it at once; one that is gone never will).
LINGER_SECONDS = 30.0


class DuckActor:
    """One line's Duck on a cluster node (see the module)."""

    def __init__(self) -> None:
        self._done = threading.Event()
        self._started = False
        self._code: int | None = None
        self._terminate: Callable[[], None] | None = None
        self._stop_asked = False
        self._lock = threading.Lock()

    def where(self) -> dict[str, Any]:
        """The node this actor runs on (its id and address) and its process id."""
        import ray

        return {
            "id": ray.get_runtime_context().get_node_id(),
            "address": ray.util.get_node_ip_address(),  # type: ignore[no-untyped-call]
            "pid": os.getpid(),
        }

    def run(self, config: Any, environment: dict[str, str] | None = None) -> int:
        """Run the Duck until it stops; its exit code. ``environment`` is what it sees of its
        Catchment's settings (the process is this Duck's alone)."""
        from duckstring.duck.worker import run_duck

        os.environ.update(environment or {})
        with self._lock:
            self._started = True
        try:
            self._code = run_duck(config, on_terminable=self._terminable)
        finally:
            self._done.set()
            # Nobody may ever collect it (its Catchment is gone): exit by itself, later.
            ender = threading.Timer(LINGER_SECONDS, os._exit, args=(0,))
            ender.daemon = True
            ender.start()
        return self._code

    def _terminable(self, terminate: Callable[[], None]) -> None:
        with self._lock:
            self._terminate = terminate
            asked = self._stop_asked
        if asked:
            terminate()

    def state(self) -> str:
        """``running`` while its Duck runs, ``done`` once it ended, ``idle`` before it began."""
        if self._done.is_set():
            return "done"
        return "running" if self._started else "idle"

    def wait(self) -> int | None:
        """Block until the Duck ends; its exit code."""
        self._done.wait()
        return self._code

    def terminate(self) -> None:
        """Stop the Duck as SIGTERM stops a forked one: promptly, reporting nothing new."""
        with self._lock:
            self._stop_asked = True
            terminate = self._terminate
        if terminate is not None:
            terminate()

    def memory(self) -> int | None:
        """The proportional set size of this actor's process, in bytes."""
        return process_memory(os.getpid())

    def resident(self) -> int | None:
        return resident_memory(os.getpid())
