"""State of one Pond line as the Catchment's engine holds it."""

from __future__ import annotations

from dataclasses import dataclass

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


@dataclass(slots=True)
class Run:
    """A Pond Run the engine began and has not yet seen complete (or one halted by failure)."""

    seq: int
    f: Micros
    kind: str
    started_at: Micros
    status: str = RUNNING


class PondNode:
    """One live Pond line: freshness, demand, trigger, windows, faults and its Ripples."""

    __slots__ = (
        "blocked",
        "d",
        "deadline",
        "end_f",
        "failed_f",
        "failures",
        "has_pull",
        "id",
        "immediate_retries",
        "is_failed",
        "is_killed",
        "parked",
        "pull_local",
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
