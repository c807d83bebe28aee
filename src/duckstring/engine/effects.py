"""What the engine tells its host: Pond Runs to begin, and what became of them.

The host drains these after every call (:meth:`Engine.drain`) and acts on them: a Catchment
dispatches ``RunBegan`` to the line's Duck and writes every effect as a history row in the same
transaction as the state change it explains.
"""

from __future__ import annotations

from dataclasses import dataclass

from duckstring.engine.clock import Micros
from duckstring.engine.pond import RunCause


@dataclass(frozen=True, slots=True)
class RunBegan:
    """Begin a Pond Run of ``pond`` at freshness ``f``.

    ``kind`` says why: pull, push, retry, wake or force; ``cause`` says whose demand and which
    Source's freshness (None for a run re-dispatched after a restart: it was recorded then).
    """

    pond: str
    seq: int
    f: Micros
    d: Micros
    kind: str
    at: Micros
    immediate_retries: int
    cause: RunCause | None = None


@dataclass(frozen=True, slots=True)
class RunCompleted:
    pond: str
    seq: int
    f: Micros
    at: Micros


@dataclass(frozen=True, slots=True)
class RunFailed:
    pond: str
    seq: int
    f: Micros
    at: Micros
    error: str
    traceback: str | None = None


@dataclass(frozen=True, slots=True)
class RunKilled:
    pond: str
    seq: int
    f: Micros
    at: Micros


@dataclass(frozen=True, slots=True)
class StopWorker:
    """Terminate the line's worker now (``kill``, or its runs were abandoned)."""

    pond: str
    reason: str


Effect = RunBegan | RunCompleted | RunFailed | RunKilled | StopWorker
