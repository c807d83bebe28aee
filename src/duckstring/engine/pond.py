"""State of one Pond line as the Catchment's engine holds it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from duckstring.engine.clock import NEVER, Micros
from duckstring.engine.ripples import RippleGraph
from duckstring.engine.windows import WindowRule

#: Run kinds, as recorded in history.
PULL, PUSH, RETRY, WAKE, FORCE = "pull", "push", "retry", "wake", "force"

#: Run statuses while the engine tracks a run.
RUNNING, HALTED = "running", "failed"


@dataclass(frozen=True, slots=True)
class SourceEdge:
    """A Sink's declared dependency on the line ``source`` (``name@major``)."""

    source: str
    optional: bool = False


@dataclass(frozen=True, slots=True)
class Trigger:
    """A standing trigger: a Wave (``bound`` None) or a Tide with its staleness bound."""

    kind: str
    bound: Micros | None = None


WAVE = Trigger("wave")

#: How demand reached a line from a Sink (the other values of ``Demand.via`` name a trigger or
#: verb set on the line itself: tap, wave, pulse, tide, wake, force).
SINK = "sink"


@dataclass(frozen=True, slots=True)
class Demand:
    """Where the demand a line holds came from: the line that delivered it (a Sink, or the
    line itself for its own trigger or verb) and the trigger or verb that began the chain."""

    by: str
    via: str
    origin: str
    trigger: str

    def relayed(self, sink: str) -> Demand:
        """The same demand, as ``sink`` passes it on to its Sources."""
        return Demand(sink, SINK, self.origin, self.trigger)


def own(line: str, trigger: str) -> Demand:
    """Demand a line's own trigger or verb gives it."""
    return Demand(line, trigger, line, trigger)


@dataclass(frozen=True, slots=True)
class RunCause:
    """The demand that started a Pond Run, and the freshness it took, as of its start."""

    kind: str
    demand: Demand | None
    #: The push target the run meets (push runs only).
    target: Micros | None
    source_f: Micros
    #: The Source line whose endF gave ``source_f``, and its run that published it.
    source: str | None = None
    source_run: int | None = None
    #: The window that gave an Inlet its freshness.
    window: str | None = None

    def to_row(self) -> dict[str, object]:
        """Plain values (engine times as microseconds, NEVER as None) for a host to store."""
        demand = self.demand
        return {
            "kind": self.kind,
            "by": None if demand is None else demand.by,
            "via": None if demand is None else demand.via,
            "origin": None if demand is None else demand.origin,
            "trigger": None if demand is None else demand.trigger,
            "target": self.target,
            "source_f": None if self.source_f == NEVER else self.source_f,
            "source": self.source,
            "source_run": self.source_run,
            "window": self.window,
        }

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> RunCause:
        """The cause :meth:`to_row` wrote."""
        demand = None
        if row.get("by") is not None:
            demand = Demand(row["by"], row["via"], row["origin"], row["trigger"])
        source_f = row.get("source_f")
        return cls(
            row["kind"],
            demand,
            row.get("target"),
            NEVER if source_f is None else int(source_f),
            row.get("source"),
            row.get("source_run"),
            row.get("window"),
        )


@dataclass(frozen=True, slots=True)
class Failure:
    """The last failure of a line: which run, when, and what the worker said."""

    seq: int
    f: Micros
    at: Micros
    error: str


@dataclass(slots=True)
class Run:
    """A Pond Run the engine began and has not yet seen complete (or one halted by failure)."""

    seq: int
    f: Micros
    kind: str
    started_at: Micros
    status: str = RUNNING
    cause: RunCause | None = None


class PondNode:
    """One live Pond line: freshness, demand, trigger, windows, faults and its Ripples."""

    __slots__ = (
        "blocked",
        "d",
        "deadline",
        "end_f",
        "end_seq",
        "failed_f",
        "failure",
        "failures",
        "has_pull",
        "id",
        "immediate_retries",
        "is_failed",
        "is_killed",
        "parked",
        "pull_demand",
        "pull_local",
        "push_demand",
        "rev",
        "ripples",
        "run_seq",
        "runs",
        "runs_completed",
        "source_retries",
        "sources",
        "start_f",
        "targets",
        "trigger",
        "windows",
    )

    def __init__(
        self,
        pond_id: str,
        ripples: RippleGraph,
        sources: list[SourceEdge],
        immediate_retries: int = 0,
        source_retries: int = 0,
    ) -> None:
        self.id = pond_id
        self.ripples = ripples
        self.sources = sources
        self.start_f: Micros = NEVER
        self.end_f: Micros = NEVER
        self.d: Micros = 0
        self.has_pull = False
        #: The pending pull came from ``wake``: it must not travel to the Sources.
        self.pull_local = False
        self.targets: list[Micros] = []
        self.is_failed = False
        self.failed_f: Micros = NEVER
        self.failures = 0
        self.is_killed = False
        self.blocked = False
        #: The last failure while the line is failed (in memory: a restored engine has None).
        self.failure: Failure | None = None
        #: Where the latest pull that reached the line came from, and each held target's.
        self.pull_demand: Demand | None = None
        self.push_demand: dict[Micros, Demand] = {}
        #: The run that published ``end_f`` (0: none yet).
        self.end_seq = 0
        #: Set by ``clear`` and deploys: the demand and standing trigger the line holds wait
        #: until new demand reaches it or a Source's endF advances (they start nothing).
        self.parked = False
        self.immediate_retries = immediate_retries
        self.source_retries = source_retries
        self.trigger: Trigger | None = None
        self.windows: list[WindowRule] = []
        self.runs: dict[int, Run] = {}
        #: Pond Runs started (pull, push, wake, force, retry-on-change) and completed.
        self.run_seq = 0
        self.runs_completed = 0
        #: Bumped on every change of the state, so a viewer or a cache can tell what moved.
        self.rev = 0
        #: When the host must ask about this Pond again, if ever.
        self.deadline: Micros | None = None

    @property
    def in_flight(self) -> bool:
        return self.start_f > self.end_f

    @property
    def running(self) -> bool:
        return any(run.status == RUNNING for run in self.runs.values())

    @property
    def has_demand(self) -> bool:
        return self.has_pull or bool(self.targets)

    @property
    def gen(self) -> int:
        """Pond Runs started on the line (what the wire calls ``gen``)."""
        return self.run_seq

    @property
    def status(self) -> str:
        """``failed``, ``killed``, ``blocked``, ``running``, ``queued`` or ``idle``, in that
        precedence. ``running`` only while one of its Ripples runs."""
        if self.is_failed:
            return "failed"
        if self.is_killed:
            return "killed"
        if self.blocked:
            return "blocked"
        if self.ripples.any_busy:
            return "running"
        if self.has_demand or self.running:
            return "queued"  # holds demand it cannot meet yet, or a run waits to publish
        return "idle"

    def staleness(self, now: Micros) -> Micros | None:
        """``now + D - F`` of the published data; None before the first completed run."""
        if self.end_f == NEVER:
            return None
        return now + self.d - self.end_f
