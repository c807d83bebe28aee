"""The Catchment's engine: every rule of ``docs/concepts/`` over all Pond lines.

It is a pure state machine. Hosts call it with commands (triggers, control verbs, deploys) and
with what workers report (Ripple and Pond Run outcomes), always passing ``now``. After each call
the host drains :class:`~duckstring.engine.effects.Effect` values — above all ``RunBegan``, the
Pond Runs to start now — and asks :meth:`Engine.next_deadline` when it must call
:meth:`Engine.advance` again. Nothing here reads a clock, sleeps or does I/O.

Each call touches only the Ponds it reaches: changed Ponds are queued and evaluated once the
call's rules have run, and time-driven work (windows, Tides) sits in a heap of deadlines.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Sequence

from duckstring.engine import windows as window_rules
from duckstring.engine.clock import NEVER, Micros
from duckstring.engine.effects import (
    Effect,
    RunBegan,
    RunCompleted,
    RunFailed,
    RunKilled,
    StopWorker,
)
from duckstring.engine.pond import (
    FORCE,
    HALTED,
    PULL,
    PUSH,
    RETRY,
    RUNNING,
    SINK,
    WAKE,
    WAVE,
    Demand,
    Failure,
    PondNode,
    Run,
    RunCause,
    SourceEdge,
    Trigger,
    own,
)
from duckstring.engine.ripples import RippleGraph, RippleSpec
from duckstring.engine.windows import WindowRule


class EngineError(ValueError):
    """A command the engine refuses, with a message fit for a user."""


class UnknownPond(EngineError, KeyError):
    """No Pond line by that id is deployed."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "unknown Pond"


class CycleError(EngineError):
    """A deploy would close a cycle between Ponds."""


class Engine:
    """All Pond lines of a Catchment and the rules that move them."""

    def __init__(self) -> None:
        self.ponds: dict[str, PondNode] = {}
        #: Sinks per source id, including Sinks of sources not deployed yet (they bind later).
        self.sinks_of: dict[str, list[str]] = {}
        self._effects: list[Effect] = []
        self._dirty: dict[str, None] = {}
        self._heap: list[tuple[Micros, int, str]] = []
        self._heap_seq = 0
        self._changed: set[str] = set()
        #: Calls processed (commands, worker events, deadline wake-ups), for benchmarks.
        self.events = 0

    # == lookup ===================================================================================

    def pond(self, pond_id: str) -> PondNode:
        try:
            return self.ponds[pond_id]
        except KeyError:
            raise UnknownPond(f"unknown Pond {pond_id!r}") from None

    def sinks(self, pond_id: str) -> list[PondNode]:
        return [self.ponds[s] for s in self.sinks_of.get(pond_id, ()) if s in self.ponds]

    def ancestors(self, pond_id: str) -> list[str]:
        """Every line upstream of ``pond_id`` (deployed ones), nearest first."""
        seen: dict[str, None] = {}
        frontier = [pond_id]
        while frontier:
            current = self.ponds.get(frontier.pop(0))
            if current is None:
                continue
            for edge in current.sources:
                if edge.source not in seen and edge.source in self.ponds:
                    seen[edge.source] = None
                    frontier.append(edge.source)
        return list(seen)

    def source_f(self, p: PondNode, now: Micros) -> tuple[Micros, Micros]:
        """``(sourceF, D)`` of ``p`` now: what a run starting now would take."""
        if not p.sources:
            if not p.windows:
                return now, 0
            window = window_rules.open_window(p.windows, now)
            if window is None:
                return NEVER, 0
            return window.end, window.length
        required = [e for e in p.sources if not e.optional]
        edges = required or p.sources
        values = []
        for edge in edges:
            source = self.ponds.get(edge.source)
            values.append(NEVER if source is None else source.end_f)
        source_f = min(values) if required else max(values)
        d = 0
        for edge in p.sources:
            source = self.ponds.get(edge.source)
            if source is not None and source.end_f == source_f and source.d > d:
                d = source.d
        return source_f, d

    # == effects, changes, deadlines ==============================================================

    def drain(self) -> list[Effect]:
        """Effects produced since the last drain, in order."""
        effects, self._effects = self._effects, []
        return effects

    def take_changed(self) -> set[str]:
        """Ids of Ponds whose state changed since the last call (for incremental persistence)."""
        changed, self._changed = self._changed, set()
        return changed

    def next_deadline(self) -> Micros | None:
        """When the host must call :meth:`advance` next; None when nothing waits on time."""
        heap = self._heap
        while heap:
            due, _, pond_id = heap[0]
            p = self.ponds.get(pond_id)
            if p is not None and p.deadline == due:
                return due
            heapq.heappop(heap)
        return None

    def advance(self, now: Micros) -> None:
        """Time reached ``now``: wake every Pond whose deadline has come."""
        self.events += 1
        heap = self._heap
        while heap and heap[0][0] <= now:
            due, _, pond_id = heapq.heappop(heap)
            p = self.ponds.get(pond_id)
            if p is not None and p.deadline == due:
                p.deadline = None
                self._mark(p)
        self._settle(now)

    def _mark(self, p: PondNode) -> None:
        self._dirty[p.id] = None

    def _touch(self, p: PondNode) -> None:
        """``p`` changed in a way that may let it start: persist it and evaluate it."""
        p.rev += 1
        self._changed.add(p.id)
        self._dirty[p.id] = None

    def _note(self, p: PondNode) -> None:
        """``p`` changed in a way that cannot let it start, or that must not start it by itself
        (clear, deploy, recovery): persist it only."""
        p.rev += 1
        self._changed.add(p.id)

    def _settle(self, now: Micros) -> None:
        dirty = self._dirty
        while dirty:
            pond_id = next(iter(dirty))
            del dirty[pond_id]
            p = self.ponds.get(pond_id)
            if p is not None:
                self._evaluate(p, now)

    def _set_deadline(self, p: PondNode, due: Micros | None, now: Micros) -> None:
        if due is not None and due <= now:
            due = now + 1  # never ask to be woken in the past: the host would spin
        if due == p.deadline:
            return
        p.deadline = due
        if due is not None:
            self._heap_seq += 1
            heapq.heappush(self._heap, (due, self._heap_seq, p.id))

    # == the rules ================================================================================

    def _evaluate(self, p: PondNode, now: Micros) -> None:
        """Apply the standing trigger and start a Pond Run if the rules allow one."""
        if p.parked:
            self._set_deadline(p, None, now)  # nothing but new demand or a Source wakes it
            return
        trigger = p.trigger
        if trigger is not None and not p.blocked:
            if trigger.kind == "wave":
                if not p.in_flight and not p.has_demand and not p.runs and not p.ripples.any_busy:
                    self._pull(p, own(p.id, "wave"))
            else:
                self._tide(p, trigger, now)
        source_f, d = self.source_f(p, now)
        kind: str | None = None
        if not p.is_killed:
            if not p.is_failed:
                if p.targets and source_f >= p.targets[0]:
                    kind = PUSH
                elif p.has_pull and source_f > p.start_f:
                    kind = WAKE if p.pull_local else PULL
            elif p.failed_f != NEVER and p.failures <= p.source_retries and source_f > p.start_f:
                kind = RETRY
        if kind is not None:
            self._begin(p, source_f, d, kind, now)
        self._set_deadline(p, self._deadline(p, now), now)

    def _deadline(self, p: PondNode, now: Micros) -> Micros | None:
        due: Micros | None = None
        trigger = p.trigger
        if trigger is not None and trigger.kind == "tide" and not p.blocked:
            due = self._tide_due(p, trigger, now)
        waiting = not p.is_killed and (
            (not p.is_failed and p.has_demand)
            or (p.is_failed and p.failed_f != NEVER and p.failures <= p.source_retries)
        )
        if waiting and not p.sources:
            if p.windows:
                opens = window_rules.next_open_after(p.windows, now)
                if opens is not None and (due is None or opens < due):
                    due = opens
            elif p.start_f >= now:
                # Same clock tick as the last run: sourceF = now passes startF a tick later.
                tick = p.start_f + 1
                if due is None or tick < due:
                    due = tick
        return due

    def _tide_due(self, p: PondNode, trigger: Trigger, now: Micros) -> Micros:
        bound = trigger.bound or 0
        if p.targets:
            # A held target stands for data not produced yet: it has no window delay.
            return p.targets[-1] + bound
        if p.start_f == NEVER:
            return now
        due = p.start_f + bound - p.d
        floor = max(p.start_f, p.end_f)
        if due <= now and now <= floor:
            # Data already runs ahead of the clock (a window's "fresh until"); a newer target
            # can only be asked for once the clock passes it.
            return floor + 1
        return due

    def tide_due(self, p: PondNode, now: Micros) -> Micros | None:
        """When ``p``'s Tide adds its next target (None: it holds no Tide)."""
        trigger = p.trigger
        if trigger is None or trigger.kind != "tide":
            return None
        return self._tide_due(p, trigger, now)

    def _tide(self, p: PondNode, trigger: Trigger, now: Micros) -> None:
        if self._tide_due(p, trigger, now) <= now:
            self._push(p, now, own(p.id, "tide"))

    def _begin(self, p: PondNode, source_f: Micros, d: Micros, kind: str, now: Micros) -> None:
        cause = self._cause(p, source_f, kind, now)
        if p.has_pull and p.sources and not p.blocked and not p.pull_local:
            relay = self._relay(p)
            for edge in p.sources:
                source = self.ponds.get(edge.source)
                if source is not None:
                    self._pull(source, relay)
        p.start_f = source_f
        p.has_pull = False
        p.pull_local = False
        if p.targets and p.targets[0] <= source_f:
            p.targets = [t for t in p.targets if t > source_f]
            for met in [t for t in p.push_demand if t <= source_f]:
                del p.push_demand[met]
        p.d = d
        p.ripples.stamp(source_f, p.immediate_retries)
        p.run_seq += 1
        p.runs[p.run_seq] = Run(p.run_seq, source_f, kind, now, cause=cause)
        self._effects.append(
            RunBegan(p.id, p.run_seq, source_f, d, kind, now, p.immediate_retries, cause)
        )
        self._start_ripples(p)
        self._touch(p)

    def _cause(self, p: PondNode, source_f: Micros, kind: str, now: Micros) -> RunCause:
        """What starts the run about to begin: the demand it meets and who supplied its
        freshness. Read before ``_begin`` changes anything; a few lookups, no search."""
        target: Micros | None = None
        demand: Demand | None = None
        if kind == PUSH:
            target = p.targets[0]
            demand = p.push_demand.get(target)
        elif kind != RETRY:
            demand = p.pull_demand
        if not p.sources:
            window = None
            if p.windows:
                opened = window_rules.open_window(p.windows, now)
                window = None if opened is None else opened.rule
            return RunCause(kind, demand, target, source_f, window=window)
        required = any(not edge.optional for edge in p.sources)
        for edge in p.sources:
            if required and edge.optional:
                continue
            source = self.ponds.get(edge.source)
            if source is not None and source.end_f == source_f:
                return RunCause(kind, demand, target, source_f, source.id, source.end_seq or None)
        return RunCause(kind, demand, target, source_f)

    @staticmethod
    def _relay(p: PondNode) -> Demand:
        """The demand ``p`` passes to its Sources: what it holds, relayed."""
        held = p.pull_demand
        return held.relayed(p.id) if held is not None else Demand(p.id, SINK, p.id, "pull")

    def _start_ripples(self, p: PondNode) -> None:
        """Start the Ripple Runs the line's Duck starts now (it runs the same push rules), so a
        Ripple reads ``running`` from the dispatch of its Pond Run, not from the Duck's first
        event; the Duck's ``ripple_started`` then confirms it."""
        graph = p.ripples
        for name, f in graph.due(p.start_f, pull=False):
            if graph.start(name, f) and not p.blocked:
                self._set_pull(p)  # the held pull reached a root: the Pond re-arms

    def _pull(self, p: PondNode, demand: Demand) -> None:
        """Pull reaches a Pond (from a Sink or a trigger)."""
        if p.blocked:
            return
        p.pull_demand = demand
        if p.in_flight or p.runs:
            reached_root = p.ripples.pull_leaves()
            self._touch(p)
            if reached_root or self._holds_parked_pull(p):
                self._set_pull(p)
            self._unpark(p)
            return
        p.ripples.pull_all()
        self._set_pull(p)

    @staticmethod
    def _holds_parked_pull(p: PondNode) -> bool:
        """``p`` holds a pull that a clear or deploy parked: new pull sends it on again (its
        Sources may never have had it: they were failing, or not deployed yet)."""
        return p.parked and p.has_pull and not p.pull_local

    def _set_pull(self, start: PondNode) -> None:
        """A Pond's hasPull becomes true: pull every Source that has not started ahead of it."""
        stack = [start]
        while stack:
            p = stack.pop()
            if p.blocked:
                continue
            resend = self._holds_parked_pull(p)
            self._unpark(p)  # new demand: what it holds may start again
            if p.has_pull and not p.pull_local and not resend:
                continue
            p.has_pull = True
            p.pull_local = False
            self._touch(p)
            relay: Demand | None = None
            for edge in p.sources:
                source = self.ponds.get(edge.source)
                if source is None or source.blocked or source.start_f > p.start_f:
                    continue
                if relay is None:
                    relay = self._relay(p)
                source.pull_demand = relay
                if source.in_flight or source.runs:
                    if source.ripples.pull_leaves() or self._holds_parked_pull(source):
                        stack.append(source)
                    else:
                        self._unpark(source)
                    self._touch(source)
                else:
                    source.ripples.pull_all()
                    stack.append(source)

    def _push(self, start: PondNode, target: Micros, demand: Demand) -> None:
        """A push target reaches a Pond and travels at once to its required Sources."""
        stack = [(start, demand)]
        while stack:
            p, delivered = stack.pop()
            if p.blocked or target <= p.end_f or target <= p.start_f or target in p.targets:
                continue
            p.targets.append(target)
            p.targets.sort()
            p.push_demand[target] = delivered
            p.parked = False
            self._touch(p)
            relay: Demand | None = None
            for edge in p.sources:
                if not edge.optional:
                    source = self.ponds.get(edge.source)
                    if source is not None:
                        if relay is None:
                            relay = delivered.relayed(p.id)
                        stack.append((source, relay))

    def _refresh_blocked(self, start: PondNode, *, park: bool = False) -> None:
        """Derive ``blocked`` again from ``start`` down. With ``park``, a Pond that becomes
        unblocked parks the demand it holds (see :meth:`_park`)."""
        stack = [start]
        while stack:
            p = stack.pop()
            blocked = p.is_failed or p.is_killed
            if not blocked:
                for edge in p.sources:
                    if not edge.optional:
                        source = self.ponds.get(edge.source)
                        if source is not None and source.blocked:
                            blocked = True
                            break
            if blocked != p.blocked:
                p.blocked = blocked
                if park and not blocked:
                    self._park(p)
                self._touch(p)
                stack.extend(self.sinks(p.id))

    def _park(self, p: PondNode) -> None:
        """``clear`` and deploys only recompute fault flags: they send no demand and start no
        run. What ``p`` holds (pull, targets, its standing trigger) waits, parked, until new
        demand reaches it or one of its Sources' endF advances."""
        p.parked = True
        self._touch(p)

    def _unpark(self, p: PondNode) -> None:
        if p.parked:
            p.parked = False
            self._touch(p)

    def _fail(self, p: PondNode, f: Micros, now: Micros, error: str, tb: str | None) -> bool:
        """Runs at or below ``f`` halt as failed; the Pond counts one failure."""
        halted = False
        for run in p.runs.values():
            if run.status == RUNNING and run.f <= f:
                run.status = HALTED
                halted = True
                self._effects.append(RunFailed(p.id, run.seq, run.f, now, error, tb))
        if not halted:
            return False
        p.failed_f = max(p.failed_f, f)
        p.failures += 1
        p.is_failed = True
        p.failure = Failure(max(r.seq for r in p.runs.values() if r.f <= f), f, now, error)
        p.parked = False  # the fault rules (retry on change) take over
        p.ripples.drop_runs_through(f)
        self._touch(p)
        self._refresh_blocked(p)
        return True

    def _reset_faults(self, p: PondNode, *, killed: bool = True) -> None:
        """Back to healthy, parked: the caller unparks the Pond if it means it to run."""
        # Failure forgotten, halted runs abandoned, downstream unblocked (and parked).
        p.is_failed = False
        p.failed_f = NEVER
        p.failures = 0
        p.failure = None
        if killed:
            p.is_killed = False
        for seq in [seq for seq, run in p.runs.items() if run.status == HALTED]:
            del p.runs[seq]
        running = [run.f for run in p.runs.values()]
        p.start_f = max([p.end_f, *running])
        self._park(p)
        self._refresh_blocked(p, park=True)

    # == deploys ==================================================================================

    def find_cycle(self, pond_id: str, sources: Iterable[str]) -> list[str] | None:
        """The cycle that ``pond_id`` reading ``sources`` would close, if any."""
        for first in sources:
            stack: list[tuple[str, list[str]]] = [(first, [pond_id, first])]
            seen: set[str] = set()
            while stack:
                current, path = stack.pop()
                if current == pond_id:
                    return path
                if current in seen:
                    continue
                seen.add(current)
                node = self.ponds.get(current)
                if node is not None:
                    for edge in node.sources:
                        stack.append((edge.source, [*path, edge.source]))
        return None

    def deploy(
        self,
        pond_id: str,
        ripples: Sequence[RippleSpec],
        sources: Sequence[SourceEdge],
        now: Micros,
        *,
        immediate_retries: int = 0,
        source_retries: int = 0,
    ) -> None:
        """Deploy (or redeploy) a line: topology, Sources, budgets seeded on the first deploy.

        A redeploy keeps freshness, demand, triggers, windows and budgets, and clears a failure.
        """
        self.events += 1
        source_ids = [edge.source for edge in sources]
        if pond_id in source_ids:
            raise CycleError(f"{pond_id} cannot be its own Source")
        if len(set(source_ids)) != len(source_ids):
            raise EngineError(f"{pond_id} names a Source twice")
        cycle = self.find_cycle(pond_id, source_ids)
        if cycle is not None:
            raise CycleError("deploying it would close a cycle: " + " -> ".join(cycle))
        existing = self.ponds.get(pond_id)
        if existing is None:
            p = PondNode(
                pond_id, RippleGraph(ripples), list(sources), immediate_retries, source_retries
            )
            self.ponds[pond_id] = p
            old_sources: list[str] = []
        else:
            p = existing
            p.ripples = p.ripples.reshaped(ripples)
            old_sources = [edge.source for edge in p.sources]
            p.sources = list(sources)  # windows are kept: inert while the line has Sources
        for source in old_sources:
            if source not in source_ids:
                self.sinks_of[source].remove(pond_id)
        for source in source_ids:
            sinks = self.sinks_of.setdefault(source, [])
            if pond_id not in sinks:
                sinks.append(pond_id)
        if existing is not None and (
            p.is_failed or any(r.status == HALTED for r in p.runs.values())
        ):
            self._reset_faults(p, killed=False)
        self._refresh_blocked(p)
        # Deploying never starts a run and sends no demand. Sinks that waited for this line
        # bind to it now; what they hold waits for new demand or for its endF to advance (a
        # Source that was not deployed counted as NEVER, as this one still does).
        self._park(p)
        if existing is None:
            for sink in self.sinks(pond_id):
                self._refresh_blocked(sink)
                self._park(sink)
        self._settle(now)

    # == triggers =================================================================================

    def tap(self, pond_id: str, now: Micros) -> None:
        """Deliver one pull."""
        self.events += 1
        self._pull(self.pond(pond_id), own(pond_id, "tap"))
        self._settle(now)

    def pulse(self, pond_id: str, now: Micros) -> None:
        """Add the push target ``now``."""
        self.events += 1
        self._push(self.pond(pond_id), now, own(pond_id, "pulse"))
        self._settle(now)

    def wave(self, pond_id: str, now: Micros) -> None:
        """Set a standing pull that renews itself (replaces any standing trigger)."""
        self.events += 1
        p = self.pond(pond_id)
        p.trigger = WAVE
        self._touch(p)
        self._pull(p, own(p.id, "wave"))
        self._settle(now)

    def tide(self, pond_id: str, bound: Micros, now: Micros) -> None:
        """Set a standing push keeping staleness under ``bound`` (replaces any standing trigger)."""
        self.events += 1
        if bound <= 0:
            raise EngineError("a Tide's bound must be longer than zero")
        p = self.pond(pond_id)
        p.trigger = Trigger("tide", bound)
        if not p.blocked:
            p.parked = False
        self._touch(p)
        self._settle(now)

    def untrigger(self, pond_id: str, now: Micros) -> None:
        """Remove the standing trigger; demand already in the graph drains."""
        self.events += 1
        p = self.pond(pond_id)
        p.trigger = None
        self._touch(p)
        self._settle(now)

    # == control verbs ============================================================================

    def wake(self, pond_id: str, now: Micros) -> None:
        """A single non-propagating pull; clears failed/killed."""
        self.events += 1
        p = self.pond(pond_id)
        if p.is_failed or p.is_killed:
            self._reset_faults(p)
        if not p.blocked:
            self._unpark(p)
        if not p.blocked and not p.has_pull:
            p.has_pull = True
            p.pull_local = True
            p.pull_demand = own(p.id, "wake")
            self._touch(p)
        self._settle(now)

    def force(self, pond_id: str, now: Micros) -> None:
        """Run every Ripple again at the current freshness; clears failed/killed. On a line
        that never completed a run: a wake (one non-propagating run at the current sourceF)."""
        self.events += 1
        p = self.pond(pond_id)
        if p.end_f == NEVER:
            # Nothing was ever published to run again: one non-propagating run at the current
            # sourceF instead, as wake starts it (an Inlet now, a windowed one when it opens).
            self.wake(pond_id, now)
            return
        faulted = p.is_failed or p.is_killed
        running = [run.f for run in p.runs.values() if run.status == RUNNING]
        f = max([p.end_f, *running]) if faulted else p.start_f
        if faulted:
            self._reset_faults(p)
        self._unpark(p)
        p.ripples.force(f, p.immediate_retries)
        p.run_seq += 1
        cause = RunCause(FORCE, own(p.id, "force"), None, f)
        p.runs[p.run_seq] = Run(p.run_seq, f, FORCE, now, cause=cause)
        self._effects.append(
            RunBegan(p.id, p.run_seq, f, p.d, FORCE, now, p.immediate_retries, cause)
        )
        self._start_ripples(p)
        self._touch(p)
        self._settle(now)

    def sleep(self, pond_id: str, now: Micros, *, upstream: bool = False) -> None:
        """Drop the Pond's demand and standing trigger (and every ancestor's with ``upstream``)."""
        self.events += 1
        targets = [pond_id, *(self.ancestors(pond_id) if upstream else [])]
        for target in targets:
            p = self.pond(target)
            p.has_pull = False
            p.pull_local = False
            p.targets = []
            p.push_demand = {}
            p.trigger = None
            p.parked = False  # nothing is held any more
            p.ripples.clear_pull()
            self._touch(p)
        self._settle(now)

    def kill(self, pond_id: str, now: Micros) -> None:
        """Stop the worker, cancel in-flight runs (``killed``) and park the Pond."""
        self.events += 1
        p = self.pond(pond_id)
        self._effects.append(StopWorker(p.id, "killed"))
        for run in p.runs.values():
            if run.status == RUNNING:
                self._effects.append(RunKilled(p.id, run.seq, run.f, now))
        p.runs.clear()
        p.start_f = p.end_f
        p.ripples.cancel()
        p.ripples.clear_pull()
        p.has_pull = False
        p.pull_local = False
        p.targets = []
        p.push_demand = {}
        p.is_killed = True
        self._touch(p)
        self._refresh_blocked(p)
        self._settle(now)

    def clear(self, pond_id: str, now: Micros) -> None:
        """Reset failed/killed to idle without running; unblock downstream."""
        self.events += 1
        p = self.pond(pond_id)
        self._reset_faults(p)
        self._settle(now)

    def set_budget(
        self,
        pond_id: str,
        now: Micros,
        *,
        immediate_retries: int | None = None,
        source_retries: int | None = None,
    ) -> None:
        """Change the live retry budgets (operator-owned)."""
        self.events += 1
        p = self.pond(pond_id)
        for value in (immediate_retries, source_retries):
            if value is not None and value < 0:
                raise EngineError("a retry budget cannot be negative")
        if immediate_retries is not None:
            p.immediate_retries = immediate_retries
        if source_retries is not None:
            p.source_retries = source_retries
        self._touch(p)
        self._settle(now)

    def add_window(self, pond_id: str, rule: WindowRule, now: Micros) -> None:
        """Add a window rule to an Inlet; overlapping rules are refused."""
        self.events += 1
        p = self.pond(pond_id)
        if p.sources:
            raise EngineError(f"{pond_id} has Sources: windows apply to Inlets only")
        window_rules.check_no_overlap(p.windows, rule)
        p.windows = [*p.windows, rule]
        self._touch(p)
        self._settle(now)

    def remove_window(self, pond_id: str, name: str, now: Micros) -> None:
        self.events += 1
        p = self.pond(pond_id)
        kept = [rule for rule in p.windows if rule.name != name]
        if len(kept) == len(p.windows):
            raise EngineError(f"{pond_id} has no window named {name!r}")
        p.windows = kept
        self._touch(p)
        self._settle(now)

    # == what workers report ======================================================================

    def ripple_started(self, pond_id: str, ripple: str, f: Micros, now: Micros) -> None:
        """A Duck started a Ripple Run at ``f``; its held pull re-arms upward."""
        self.events += 1
        p = self.pond(pond_id)
        node = p.ripples.nodes.get(ripple)
        if node is None:
            return  # code of an older version, finishing on its own artifact
        if node.busy:
            return  # started at dispatch, as the Duck did
        if p.is_killed:
            return  # reported by the killed run's Duck before it died: that run is over
        if p.ripples.start(ripple, f) and not p.blocked:
            self._set_pull(p)  # the held pull reached a root: the Pond re-arms
        self._note(p)
        self._settle(now)

    def ripple_succeeded(self, pond_id: str, ripple: str, now: Micros) -> None:
        self.events += 1
        p = self.pond(pond_id)
        if ripple in p.ripples.nodes:
            # The run itself completes with ``run_completed`` (after publishing), which is what
            # lets a Pond Run start; a Ripple finishing starts only the Ripples it feeds.
            p.ripples.finish(ripple)
            self._start_ripples(p)
            self._note(p)
            self._settle(now)

    def ripple_failed(self, pond_id: str, ripple: str, now: Micros, *, retrying: bool) -> None:
        """A Ripple attempt raised; with ``retrying`` the Duck runs it again in the same run."""
        self.events += 1
        p = self.pond(pond_id)
        if ripple not in p.ripples.nodes:
            return
        p.ripples.abort(ripple, retry=retrying)
        if retrying:
            self._start_ripples(p)  # the Duck runs the attempt the budget pays for at once
        self._note(p)
        self._settle(now)

    def run_completed(
        self, pond_id: str, f: Micros, now: Micros, *, seq: int | None = None
    ) -> None:
        """The Duck completed (and published) the Pond Run at ``f``; earlier runs it covered
        complete with it. A forced run completes by its ``seq``."""
        self.events += 1
        p = self.pond(pond_id)
        done = [
            run
            for run in p.runs.values()
            if run.status == RUNNING and ((run.kind != FORCE and run.f <= f) or run.seq == seq)
        ]
        advanced = f > p.end_f
        if not done and not advanced:
            return  # a replay
        for run in sorted(done, key=lambda r: r.seq):
            del p.runs[run.seq]
            self._effects.append(RunCompleted(p.id, run.seq, run.f, now))
        p.runs_completed += len(done)
        for seq in [s for s, run in p.runs.items() if run.status == HALTED and run.f <= f]:
            del p.runs[seq]
        p.ripples.settle(f)
        if advanced:
            p.end_f = f
            p.end_seq = max((run.seq for run in done if run.f == f), default=p.end_seq)
            if p.start_f < f:
                p.start_f = f
            if p.is_failed and f > p.failed_f:
                p.is_failed = False
                p.failed_f = NEVER
                p.failures = 0
                p.failure = None
                self._refresh_blocked(p)
            for sink in self.sinks(p.id):
                self._unpark(sink)  # a Source's endF advanced: what it holds may start
                self._mark(sink)
            if p.trigger is not None and p.trigger.kind == "wave" and not p.blocked:
                self._pull(p, own(p.id, "wave"))
        self._touch(p)
        self._settle(now)

    def run_failed(
        self, pond_id: str, f: Micros, now: Micros, error: str, traceback: str | None = None
    ) -> None:
        """The Pond Run at ``f`` failed with its immediate budget spent."""
        self.events += 1
        p = self.pond(pond_id)
        self._fail(p, f, now, error, traceback)
        self._settle(now)

    def worker_failed(self, pond_id: str, now: Micros, error: str) -> None:
        """The line's worker failed (died, went silent, stalled): its newest run fails, and
        nothing it was running survives."""
        self.events += 1
        p = self.pond(pond_id)
        running = [run.f for run in p.runs.values() if run.status == RUNNING]
        if running:
            self._fail(p, max(running), now, error, None)
        p.ripples.cancel()
        self._touch(p)
        self._settle(now)

    # == restore ==================================================================================

    def evaluate_all(self, now: Micros) -> None:
        """Evaluate every Pond (after a restore): recomputes deadlines, starts what is due."""
        for p in self.ponds.values():
            self._mark(p)
        self._settle(now)

    def recompute_blocked(self) -> None:
        """Derive every Pond's ``blocked`` from fault states (after a restore), sources first."""
        pending = {
            pond_id: sum(1 for e in p.sources if e.source in self.ponds)
            for pond_id, p in self.ponds.items()
        }
        ready = [pond_id for pond_id, count in pending.items() if count == 0]
        while ready:
            p = self.ponds[ready.pop()]
            p.blocked = (
                p.is_failed
                or p.is_killed
                or any(
                    self.ponds[e.source].blocked
                    for e in p.sources
                    if not e.optional and e.source in self.ponds
                )
            )
            for sink in self.sinks(p.id):
                pending[sink.id] -= 1
                if pending[sink.id] == 0:
                    ready.append(sink.id)

    def in_flight_runs(self) -> list[tuple[str, Run]]:
        """Runs begun and not yet completed, per Pond (a restarted host dispatches them again)."""
        return [
            (p.id, run)
            for p in self.ponds.values()
            for run in sorted(p.runs.values(), key=lambda r: r.seq)
            if run.status == RUNNING
        ]


def pond_ids(ponds: Iterable[PondNode]) -> list[str]:
    return [p.id for p in ponds]


__all__ = [
    "CycleError",
    "Engine",
    "EngineError",
    "RippleSpec",
    "SourceEdge",
    "UnknownPond",
]
