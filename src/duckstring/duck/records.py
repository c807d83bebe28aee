"""What a Duck's coordinator keeps in hand: its runs, attempts, and the items on its queue."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from duckstring.duck.ledger import RUNNING
from duckstring.duck.versions import VersionCode
from duckstring.engine.clock import Micros
from duckstring.engine.pond import FORCE
from duckstring.engine.ripples import RippleGraph, RippleSpec

#: In-memory states of a run beyond the ledger's: its ending is on its way through the lane.
EXPORTING, FAILING = "exporting", "failing"


@dataclass
class RunState:
    seq: int
    f: Micros
    version: str
    kind: str
    status: str = RUNNING
    #: Left running in the ledger by an earlier Duck and not dispatched to this one (yet).
    dormant: bool = False


@dataclass(frozen=True)
class Attempt:
    seq: int
    f: Micros
    ripple: str
    attempt: int
    code: VersionCode


@dataclass(frozen=True)
class Outcome:
    token: int
    attempt: Attempt
    error: str | None = None
    traceback: str | None = None


@dataclass(frozen=True)
class RunsEnded:
    """Runs reach the end of the lane: completed (after their export) or failed (``error``)."""

    seqs: tuple[int, ...]
    f: Micros
    reporting_seq: int
    forced: bool = False
    error: str | None = None
    traceback: str | None = None


@dataclass
class Stop:
    terminate: bool


def one_line(error: BaseException) -> str:
    """``Type: message`` on one line."""
    text = " ".join(part.strip() for part in str(error).splitlines() if part.strip())
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


def run_of(runs: Iterable[RunState], latest: RunState, f: Micros, *, forcing: bool) -> RunState:
    """The run a Ripple Run at ``f`` belongs to (``latest``, the newest run begun, when no run
    in hand claims it)."""
    live = [r for r in runs if r.status == RUNNING and not r.dormant]
    choices = (
        [r for r in live if r.kind == FORCE and r.f <= f] if forcing else [],
        [r for r in live if r.kind != FORCE and r.f == f],
        [r for r in live if r.kind != FORCE and r.f <= f],
        live,
    )
    for candidates in choices:
        if candidates:
            return max(candidates, key=lambda r: r.seq)
    return latest


def reshaped_in_flight(graph: RippleGraph, specs: tuple[RippleSpec, ...]) -> RippleGraph:
    """A graph of new code that keeps all the state, in-flight work included, of the Ripples
    it shares with ``graph``: a run of the old version in flight still finishes."""
    new = graph.reshaped(specs)
    for name, node in new.nodes.items():
        old = graph.nodes.get(name)
        if old is not None:
            node.start_f, node.end_f, node.busy = old.start_f, old.end_f, old.busy
            node.targets = list(old.targets)
            node.force_f, node.forcing = old.force_f, old.forcing
    new.budgets = dict(graph.budgets)
    new.attempts = dict(graph.attempts)
    return new
