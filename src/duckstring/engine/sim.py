"""A simulation harness: a virtual clock and simulated Ducks drive the engine the way the
Catchment and its workers do, so whole pipelines run for simulated hours in a test.

Each simulated Duck holds its own :class:`RippleGraph` (the push-only part a real Duck runs),
starts Ripple Runs when they are due, finishes them after a fixed or seeded-random duration and
reports every step to the engine as a real Duck reports it over HTTP.
"""

from __future__ import annotations

import heapq
import random
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from duckstring.engine.clock import NEVER, SECOND, Micros, VirtualClock, to_micros
from duckstring.engine.core import Engine
from duckstring.engine.effects import (
    Effect,
    RunBegan,
    RunCompleted,
    RunFailed,
    RunKilled,
    StopWorker,
)
from duckstring.engine.pond import FORCE, RUNNING, SourceEdge
from duckstring.engine.ripples import RetryRipple, RippleGraph, RippleSpec

#: Simulations start on a Monday at midnight UTC unless told otherwise.
DEFAULT_START: Micros = to_micros(__import__("datetime").datetime(2026, 1, 5))

#: Seconds a Ripple takes: a number, or a function of (pond, ripple, rng).
Duration = float | Callable[[str, str, random.Random], float]
#: Whether attempt ``n`` (0-based) of a Ripple raises.
Failure = Callable[[int], bool]


def always(_: int) -> bool:
    return True


@dataclass(frozen=True, slots=True)
class Record:
    """One line of the simulation's timeline."""

    at: Micros
    pond: str
    event: str
    f: Micros
    ripple: str | None = None
    attempt: int | None = None
    seq: int | None = None


@dataclass(slots=True)
class _Finish:
    pond: str
    ripple: str
    f: Micros
    attempt: int
    epoch: int


@dataclass(frozen=True)
class _Published:
    """A simulated Duck finished exporting the run at ``f``: it reports the run completed."""

    pond: str
    f: Micros
    epoch: int


class SimDuck:
    """One simulated worker for one Pond line."""

    def __init__(self, sim: Simulation, pond_id: str, specs: Sequence[RippleSpec]) -> None:
        self.sim = sim
        self.pond_id = pond_id
        self.graph = RippleGraph(specs)
        self.start_f: Micros = NEVER
        self.end_f: Micros = NEVER
        self.forced: dict[int, Micros] = {}
        self.epoch = 0

    def begin(self, run: RunBegan) -> None:
        if run.kind == FORCE:
            self.graph.force(run.f, run.immediate_retries)
            self.forced[run.seq] = run.f
        else:
            self.graph.stamp(run.f, run.immediate_retries)
            self.start_f = max(self.start_f, run.f)
        self.pump()

    def pump(self) -> None:
        sim = self.sim
        for ripple, f in self.graph.due(self.start_f):
            self.graph.start(ripple, f)
            attempt = self.graph.attempt_of(ripple, f)
            sim.ripple_runs[(self.pond_id, ripple)] += 1
            sim.record(self.pond_id, "ripple_started", f, ripple=ripple, attempt=attempt)
            sim.engine.ripple_started(self.pond_id, ripple, f, sim.now)
            sim.schedule(
                sim.now + sim.duration_of(self.pond_id, ripple),
                _Finish(self.pond_id, ripple, f, attempt, self.epoch),
            )

    def finish(self, event: _Finish) -> None:
        sim = self.sim
        if event.epoch != self.epoch:
            return  # the worker was stopped meanwhile
        failing = sim.failures.get((self.pond_id, event.ripple))
        if failing is not None and failing(sim.attempt_counter(self.pond_id, event.ripple)):
            sim.record(
                self.pond_id, "ripple_failed", event.f, ripple=event.ripple, attempt=event.attempt
            )
            outcome = self.graph.fail(event.ripple)
            retrying = isinstance(outcome, RetryRipple)
            sim.engine.ripple_failed(self.pond_id, event.ripple, sim.now, retrying=retrying)
            if not retrying:
                sim.engine.run_failed(
                    self.pond_id, event.f, sim.now, f"{event.ripple} raised", "Traceback: sim"
                )
            self.pump()
            return
        self.graph.finish(event.ripple)
        sim.record(
            self.pond_id, "ripple_succeeded", event.f, ripple=event.ripple, attempt=event.attempt
        )
        sim.engine.ripple_succeeded(self.pond_id, event.ripple, sim.now)
        end_f = self.graph.leaves_end_f()
        if end_f > self.end_f:
            self.end_f = end_f
            self.graph.settle(end_f)
            if sim.export_seconds > 0:
                # Like a real Duck: the run is reported once exported, and its next Ripples
                # start meanwhile.
                delay = round(sim.export_seconds * SECOND)
                sim.schedule(sim.now + delay, _Published(self.pond_id, end_f, self.epoch))
            else:
                sim.engine.run_completed(self.pond_id, end_f, sim.now)
        if self.forced and self.graph.forced_done():
            for seq, f in sorted(self.forced.items()):
                sim.engine.run_completed(self.pond_id, f, sim.now, seq=seq)
            self.forced.clear()
        self.pump()

    def published(self, event: _Published) -> None:
        if event.epoch == self.epoch:
            self.sim.engine.run_completed(self.pond_id, event.f, self.sim.now)

    def stop(self) -> None:
        self.epoch += 1
        self.graph.cancel()
        self.forced.clear()


@dataclass
class Simulation:
    """Drive an :class:`Engine` with simulated Ducks under a virtual clock."""

    durations: Mapping[str, Duration] = field(default_factory=dict)
    default_duration: Duration = 1.0
    failures: dict[tuple[str, str], Failure] = field(default_factory=dict)
    seed: int = 0
    start: Micros = DEFAULT_START
    engine: Engine = field(default_factory=Engine)
    #: Keep every step in :attr:`timeline` (tests read it; long benchmarks turn it off).
    keep_timeline: bool = True
    #: Seconds a simulated Duck spends publishing a run before it reports it completed (its
    #: next Ripples start meanwhile, as on a real Duck). 0: reported at once.
    export_seconds: float = 0.0

    def __post_init__(self) -> None:
        self.clock = VirtualClock(self.start)
        self.rng = random.Random(self.seed)
        self.ducks: dict[str, SimDuck] = {}
        self.timeline: list[Record] = []
        self.began: Counter[str] = Counter()
        self.completed: Counter[str] = Counter()
        self.failed: Counter[str] = Counter()
        self.killed: Counter[str] = Counter()
        self.ripple_runs: Counter[tuple[str, str]] = Counter()
        self._attempts: Counter[tuple[str, str]] = Counter()
        self._queue: list[tuple[Micros, int, Any]] = []
        self._order = 0
        self._deadline: Micros | None = None

    # -- time ----------------------------------------------------------------------------------

    @property
    def now(self) -> Micros:
        return self.clock.now()

    def seconds(self, value: float) -> Micros:
        return self.start + round(value * SECOND)

    def elapsed(self, at: Micros | None = None) -> float:
        return ((self.now if at is None else at) - self.start) / SECOND

    def duration_of(self, pond: str, ripple: str) -> Micros:
        spec = self.durations.get(f"{pond}.{ripple}", self.durations.get(pond))
        if spec is None:
            spec = self.default_duration
        value = spec(pond, ripple, self.rng) if callable(spec) else spec
        return round(value * SECOND)

    def attempt_counter(self, pond: str, ripple: str) -> int:
        key = (pond, ripple)
        count = self._attempts[key]
        self._attempts[key] = count + 1
        return count

    def schedule(self, at: Micros, event: Any) -> None:
        self._order += 1
        heapq.heappush(self._queue, (at, self._order, event))

    def next_event_at(self) -> Micros | None:
        """When the next queued event happens (None: nothing is queued), so a caller can step
        the simulation one instant at a time and stop on a condition of its own."""
        return self._queue[0][0] if self._queue else None

    def run_until(self, at: Micros) -> None:
        """Process every event up to and including instant ``at``; the clock ends there."""
        while self._queue and self._queue[0][0] <= at:
            when, _, event = heapq.heappop(self._queue)
            self.clock.set(max(when, self.now))
            if isinstance(event, _Finish):
                duck = self.ducks.get(event.pond)
                if duck is not None:
                    duck.finish(event)
            elif isinstance(event, _Published):
                duck = self.ducks.get(event.pond)
                if duck is not None:
                    duck.published(event)
            elif event == "deadline" and self._deadline is not None and self._deadline <= self.now:
                self._deadline = None
                self.engine.advance(self.now)
            self._flush()
        if at > self.now:
            self.clock.set(at)

    def run_for(self, seconds: float) -> None:
        self.run_until(self.now + round(seconds * SECOND))

    def run_to(self, seconds: float) -> None:
        """Run until ``seconds`` after the simulation's start."""
        self.run_until(self.seconds(seconds))

    def settle(self, limit_seconds: float = 86_400.0) -> None:
        """Run until no Ripple is running and nothing waits on time (or the limit passes)."""
        end = self.now + round(limit_seconds * SECOND)
        while self._queue and self._queue[0][0] <= end:
            only_deadline = all(event == "deadline" for _, _, event in self._queue)
            if only_deadline:
                break
            self.run_until(self._queue[0][0])

    # -- the host's side of the engine ---------------------------------------------------------

    def deploy(
        self,
        pond_id: str,
        ripples: Mapping[str, Sequence[str]] | None = None,
        sources: Sequence[str | SourceEdge] = (),
        *,
        immediate_retries: int = 0,
        source_retries: int = 0,
    ) -> None:
        """Deploy a line; ``ripples`` maps each Ripple to its parents (default: one Ripple, named
        after the Pond); a Source written ``"name?"`` is optional."""
        specs = [
            RippleSpec(name, tuple(parents)) for name, parents in (ripples or {pond_id: ()}).items()
        ]
        edges = [
            s if isinstance(s, SourceEdge) else SourceEdge(s.rstrip("?"), s.endswith("?"))
            for s in sources
        ]
        self.engine.deploy(
            pond_id,
            specs,
            edges,
            self.now,
            immediate_retries=immediate_retries,
            source_retries=source_retries,
        )
        if pond_id in self.ducks:
            self.ducks[pond_id].graph = self.ducks[pond_id].graph.reshaped(specs)
        else:
            self.ducks[pond_id] = SimDuck(self, pond_id, specs)
        self._flush()

    def command(self, verb: str, pond_id: str, *args: Any, **kwargs: Any) -> None:
        """Apply an engine command (``tap``, ``pulse``, ``wave``, ``tide``, ``wake`` …) now."""
        getattr(self.engine, verb)(pond_id, *args, now=self.now, **kwargs)
        self._flush()

    def tap(self, pond_id: str) -> None:
        self.command("tap", pond_id)

    def pulse(self, pond_id: str) -> None:
        self.command("pulse", pond_id)

    def wave(self, pond_id: str) -> None:
        self.command("wave", pond_id)

    def tide(self, pond_id: str, bound_seconds: float) -> None:
        self.command("tide", pond_id, round(bound_seconds * SECOND))

    def crash_worker(self, pond_id: str, error: str = "worker died") -> None:
        self.ducks[pond_id].stop()
        self.engine.worker_failed(pond_id, self.now, error)
        self._flush()

    def adopt(self, running_since: Mapping[tuple[str, str], Micros] | None = None) -> None:
        """Take over an engine that was already running (rebuilt with :func:`rows.restore` at
        :attr:`start`): give every line a simulated Duck holding what the engine's mirror
        says its Duck holds, and let what runs finish.

        A busy Ripple finishes its expected duration after it started (``running_since``, by
        ``(pond, ripple)``; one not in it is taken to start now), at once if it has overrun;
        a run whose Ripples are all done is reported completed now, as if just published.
        """
        since = running_since or {}
        # What the rebuilt engine began is already in its mirror, so in the Ducks' copies.
        for effect in self.engine.drain():
            if isinstance(effect, RunBegan):
                self.began[effect.pond] += 1
                self.record(effect.pond, "began", effect.f, seq=effect.seq)
        for p in self.engine.ponds.values():
            if p.id in self.ducks:
                continue
            duck = SimDuck(self, p.id, p.ripples.specs())
            self.ducks[p.id] = duck
            duck.graph.copy_push_state(p.ripples)
            duck.start_f, duck.end_f = p.start_f, p.end_f
            duck.forced = {
                run.seq: run.f
                for run in p.runs.values()
                if run.kind == FORCE and run.status == RUNNING
            }
            for node in duck.graph.order:
                if node.busy:
                    started = min(since.get((p.id, node.name), self.now), self.now)
                    left = max(self.now, started + self.duration_of(p.id, node.name))
                    attempt = duck.graph.attempt_of(node.name, node.start_f)
                    self.schedule(left, _Finish(p.id, node.name, node.start_f, attempt, 0))
            published = duck.graph.leaves_end_f()
            if published > p.end_f:
                duck.end_f = published
                self.schedule(self.now, _Published(p.id, published, 0))
        for duck in list(self.ducks.values()):
            duck.pump()
        self._flush()

    def record(self, pond: str, event: str, f: Micros, **extra: Any) -> None:
        if self.keep_timeline:
            self.timeline.append(Record(self.now, pond, event, f, **extra))

    def _flush(self) -> None:
        while True:
            effects = self.engine.drain()
            if not effects:
                break
            for effect in effects:
                self._apply(effect)
        deadline = self.engine.next_deadline()
        if deadline is not None and deadline != self._deadline:
            self._deadline = deadline
            self.schedule(deadline, "deadline")

    def _apply(self, effect: Effect) -> None:
        if isinstance(effect, RunBegan):
            self.began[effect.pond] += 1
            self.record(effect.pond, "began", effect.f, seq=effect.seq)
            self.ducks[effect.pond].begin(effect)
        elif isinstance(effect, RunCompleted):
            self.completed[effect.pond] += 1
            self.record(effect.pond, "completed", effect.f, seq=effect.seq)
        elif isinstance(effect, RunFailed):
            self.failed[effect.pond] += 1
            self.record(effect.pond, "failed", effect.f, seq=effect.seq)
        elif isinstance(effect, RunKilled):
            self.killed[effect.pond] += 1
            self.record(effect.pond, "killed", effect.f, seq=effect.seq)
        elif isinstance(effect, StopWorker):
            self.ducks[effect.pond].stop()

    # -- reading the outcome -------------------------------------------------------------------

    def events_of(self, pond: str, event: str) -> list[Record]:
        return [r for r in self.timeline if r.pond == pond and r.event == event]

    def times_of(self, pond: str, event: str) -> list[float]:
        return [self.elapsed(r.at) for r in self.events_of(pond, event)]
