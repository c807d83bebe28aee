"""Forecasts: the engine's own simulator, run ahead on a copy of a live graph.

:func:`forecast` rebuilds the engine from its rows (:mod:`duckstring.engine.rows`) at ``now``,
gives every line a simulated Duck holding what the live one holds, lets the Ripples that run
finish after their expected (measured) durations, and runs the rules forward in simulated
time. From the line's fresh outputs it reads when the line is next fresh, the cadence it
settles into and, for a Tide, whether the bound holds. The live engine is never touched, and a
day of pipeline time costs milliseconds.

The bottleneck of a line is the Ripple with the longest expected duration among all the
Ripples its fresh output waits for: its own, and those of every line upstream through the
Sources it waits for (the required ones; the optional ones when it has only optional Sources,
as the freshness rule reads them). A Ripple runs one run at a time, so no cadence can be
faster than it. Ties go to the Ripple on the critical path (the chain of Ripples, across
lines, whose durations add up to the longest), then to the one nearest the line.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from itertools import pairwise
from statistics import median
from typing import Any

from duckstring.engine import windows as window_rules
from duckstring.engine.clock import DAY, LONGEST_SPAN, NEVER, SECOND, Micros, iso
from duckstring.engine.core import Engine, UnknownPond
from duckstring.engine.durations import format_duration
from duckstring.engine.pond import PondNode, SourceEdge
from duckstring.engine.rows import Rows, restore
from duckstring.engine.sim import Simulation

#: Seconds a Ripple with no measured run is expected to take (it is listed in ``assumed``).
DEFAULT_RIPPLE_SECONDS = 1.0
#: Fresh outputs to simulate; the first few are the way there, the rest the settled cadence.
OUTPUTS = 12
WARM_UP = 3
#: Simulated time to look ahead (longer for a Tide with a long bound: ``OUTPUTS + 1`` bounds).
HORIZON: Micros = 8 * DAY
#: Instants and engine calls to simulate at most: what bounds the cost of one forecast (a
#: few milliseconds per thousand calls), however wide or busy the graph.
MAX_STEPS = 3000
MAX_EVENTS = 15_000
#: How far a settled cadence may pass a Tide's bound and still hold it (clock ticks).
TOLERANCE = 0.001

Durations = Mapping[str, Mapping[str, float]]


@dataclass(frozen=True, slots=True)
class Bottleneck:
    """The Ripple that sets a line's pace, and its expected duration."""

    line: str
    ripple: str
    seconds: float

    def to_api(self) -> dict[str, Any]:
        return {"line": self.line, "ripple": self.ripple, "seconds": round(self.seconds, 6)}


@dataclass(frozen=True, slots=True)
class Forecast:
    """What the simulation says of one line, from ``at`` on."""

    line: str
    at: Micros
    #: The demand simulated on the line itself: ``wave`` or ``tide`` (its standing trigger,
    #: or the Tide asked about), ``pulse`` (a push target it holds), or None.
    trigger: str | None
    next_fresh: Micros | None
    #: Median seconds between successive fresh outputs once settled; None with too few.
    cadence: float | None
    #: The Tide's bound, when there is a Tide.
    bound: Micros | None
    #: Whether the Tide's bound holds (None without a Tide, or when it cannot be told).
    holds: bool | None
    bottleneck: Bottleneck | None
    #: Why there is no ``next_fresh`` (or why a bound cannot be told).
    reason: str | None
    #: ``line.ripple`` of the Ripples the answer depends on that were never measured: they
    #: were taken to last ``DEFAULT_RIPPLE_SECONDS``.
    assumed: tuple[str, ...] = ()
    #: When each simulated fresh output came.
    outputs: tuple[Micros, ...] = ()

    @property
    def next_fresh_in(self) -> float | None:
        return None if self.next_fresh is None else (self.next_fresh - self.at) / SECOND

    def to_api(self) -> dict[str, Any]:
        """The body of ``GET /api/ponds/{name}/forecast``."""
        next_in = self.next_fresh_in
        return {
            "line": self.line,
            "at": iso(self.at),
            "trigger": self.trigger,
            "next_fresh": iso(self.next_fresh),
            "next_fresh_in": None if next_in is None else round(next_in, 6),
            "cadence": None if self.cadence is None else round(self.cadence, 6),
            "bound": None if self.bound is None else self.bound / SECOND,
            "holds": self.holds,
            "bottleneck": None if self.bottleneck is None else self.bottleneck.to_api(),
            "reason": self.reason,
            "assumed": list(self.assumed),
        }


def forecast(
    rows: Rows,
    line: str,
    now: Micros,
    durations: Durations,
    *,
    tide: Micros | None = None,
    running_since: Mapping[tuple[str, str], Micros] | None = None,
    default_seconds: float = DEFAULT_RIPPLE_SECONDS,
) -> Forecast:
    """Forecast ``line`` from the engine state ``rows`` at ``now``.

    ``durations`` maps line → Ripple → expected seconds (measured); ``tide`` asks what a Tide
    with that bound on the line would do (it replaces the line's standing trigger in the
    copy); ``running_since`` says when each busy Ripple, by ``(line, ripple)``, started.
    Raises :class:`UnknownPond` for a line not in ``rows``.
    """
    engine = restore(component(rows, line), now)
    p = engine.pond(line)
    expected, unmeasured = _expected(engine, durations, default_seconds)
    lineage = waited_for(engine, line)
    assumed = tuple(
        f"{pond}.{ripple}" for pond, ripple in unmeasured if pond in lineage or pond == line
    )
    bound = tide
    if bound is None and p.trigger is not None and p.trigger.kind == "tide":
        bound = p.trigger.bound
    if tide is not None:
        trigger: str | None = "tide"
    elif p.trigger is not None:
        trigger = p.trigger.kind
    else:
        trigger = "pulse" if p.targets else None
    bottleneck = _bottleneck(engine, line, expected)

    def answer(
        outputs: list[Micros], cadence: float | None, holds: bool | None, reason: str | None
    ) -> Forecast:
        return Forecast(
            line,
            now,
            trigger,
            outputs[0] if outputs else None,
            cadence,
            bound,
            holds,
            bottleneck,
            reason,
            assumed,
            tuple(outputs),
        )

    stuck = _stuck(engine, p)
    if stuck is not None:
        return answer([], None, None if bound is None else False, stuck)
    had_demand = p.has_demand or p.running or p.trigger is not None or tide is not None
    sim = Simulation(
        durations={f"{pond}.{ripple}": seconds for (pond, ripple), seconds in expected.items()},
        default_duration=default_seconds,
        start=now,
        engine=engine,
        keep_timeline=False,
    )
    sim.adopt(running_since)
    if tide is not None:
        sim.command("tide", line, tide)
    span = HORIZON if bound is None else max(HORIZON, (OUTPUTS + 1) * bound)
    until = now + min(span, LONGEST_SPAN)
    outputs, capped = _fresh_outputs(sim, line, until)
    cadence = settled_cadence(outputs)
    reason = None
    if not outputs:
        began = sim.began[line] > 0
        reason = _no_output(engine, p, lineage, now, until, had_demand or began, capped)
    holds: bool | None = None
    if bound is not None:
        if cadence is not None:
            holds = cadence <= bound / SECOND * (1 + TOLERANCE)
        elif capped:
            holds, reason = None, reason or "too few fresh outputs simulated to tell"
        else:
            holds = False
    return answer(outputs, cadence, holds, reason)


def component(rows: Rows, line: str) -> Rows:
    """The rows of the lines connected to ``line`` through Sources and Sinks, either way:
    nothing else can change when it runs."""
    ids = {row["id"] for row in rows.get("ponds", ())}
    if line not in ids:
        raise UnknownPond(f"unknown Pond {line!r}")
    linked: dict[str, set[str]] = {pond: set() for pond in ids}
    for row in rows.get("sources", ()):
        if row["source"] in ids:
            linked[row["pond"]].add(row["source"])
            linked[row["source"]].add(row["pond"])
    keep = {line}
    frontier = [line]
    while frontier:
        for other in linked[frontier.pop()]:
            if other not in keep:
                keep.add(other)
                frontier.append(other)
    return {
        table: [row for row in table_rows if row["id" if table == "ponds" else "pond"] in keep]
        for table, table_rows in rows.items()
    }


def waited_for(engine: Engine, line: str) -> list[str]:
    """The lines upstream whose output ``line``'s freshness waits for, nearest first."""
    seen: dict[str, None] = {}
    frontier = [line]
    while frontier:
        for edge in _followed(engine, engine.ponds[frontier.pop(0)]):
            if edge.source not in seen and edge.source != line:
                seen[edge.source] = None
                frontier.append(edge.source)
    return list(seen)


def settled_cadence(outputs: list[Micros]) -> float | None:
    """Median seconds between successive outputs after the first ``WARM_UP`` (fewer when
    only a few came); None with fewer than three outputs."""
    if len(outputs) < 3:
        return None
    settled = outputs[min(WARM_UP, len(outputs) - 3) :]
    return median(b - a for a, b in pairwise(settled)) / SECOND


def _followed(engine: Engine, p: PondNode) -> list[SourceEdge]:
    """The Sources whose endF makes ``p``'s sourceF (the engine's rule), deployed ones only."""
    required = [edge for edge in p.sources if not edge.optional]
    return [edge for edge in (required or p.sources) if edge.source in engine.ponds]


def _expected(
    engine: Engine, durations: Durations, default: float
) -> tuple[dict[tuple[str, str], float], list[tuple[str, str]]]:
    expected: dict[tuple[str, str], float] = {}
    unmeasured: list[tuple[str, str]] = []
    for p in engine.ponds.values():
        measured = durations.get(p.id, {})
        for node in p.ripples.order:
            seconds = measured.get(node.name)
            if seconds is None:
                unmeasured.append((p.id, node.name))
                seconds = default
            expected[(p.id, node.name)] = seconds
    return expected, unmeasured


def _fresh_outputs(sim: Simulation, line: str, until: Micros) -> tuple[list[Micros], bool]:
    """When the line's endF advanced, instant by instant; and whether a cap ended it."""
    p = sim.engine.pond(line)
    last = p.end_f
    outputs: list[Micros] = []
    budget = sim.engine.events + MAX_EVENTS
    for _ in range(MAX_STEPS):
        if sim.engine.events > budget:
            break
        at = sim.next_event_at()
        if at is None or at > until:
            return outputs, False
        sim.run_until(at)
        if p.end_f > last:
            last = p.end_f
            outputs.append(sim.now)
            if len(outputs) >= OUTPUTS:
                return outputs, False
    return outputs, True


def _upstream_first(engine: Engine, lines: Iterable[str]) -> list[str]:
    members = set(lines)
    waiting = {
        pond: {e.source for e in _followed(engine, engine.ponds[pond]) if e.source in members}
        for pond in members
    }
    ordered: list[str] = []
    ready = sorted(pond for pond, sources in waiting.items() if not sources)
    while ready:
        pond = ready.pop()
        ordered.append(pond)
        for other, sources in waiting.items():
            if pond in sources:
                sources.discard(pond)
                if not sources:
                    ready.append(other)
    return ordered


def _bottleneck(
    engine: Engine, line: str, expected: Mapping[tuple[str, str], float]
) -> Bottleneck | None:
    lineage = [line, *waited_for(engine, line)]
    nearness = {pond: index for index, pond in enumerate(lineage)}
    # Longest chain of expected durations ending with each Ripple, and the step before it.
    reach: dict[tuple[str, str], float] = {}
    before: dict[tuple[str, str], tuple[str, str] | None] = {}
    finish: dict[str, tuple[float, tuple[str, str]]] = {}
    for pond in _upstream_first(engine, lineage):
        p = engine.ponds[pond]
        upstream = [finish[e.source] for e in _followed(engine, p) if e.source in finish]
        start = max(upstream, default=None)
        for node in p.ripples.order:
            key = (pond, node.name)
            parents = [(pond, parent.name) for parent in node.parents]
            if parents:
                prior = max(parents, key=lambda k: reach[k])
                reach[key], before[key] = reach[prior] + expected[key], prior
            else:
                reach[key] = (0.0 if start is None else start[0]) + expected[key]
                before[key] = None if start is None else start[1]
        finish[pond] = max(
            (reach[(pond, leaf.name)], (pond, leaf.name)) for leaf in p.ripples.leaves
        )
    if line not in finish:
        return None
    critical: set[tuple[str, str]] = set()
    step: tuple[str, str] | None = finish[line][1]
    while step is not None:
        critical.add(step)
        step = before[step]
    position = {
        (pond, node.name): index
        for pond in lineage
        for index, node in enumerate(engine.ponds[pond].ripples.order)
    }
    slowest = max(
        reach,
        key=lambda k: (expected[k], k in critical, -nearness[k[0]], position[k]),
    )
    return Bottleneck(slowest[0], slowest[1], expected[slowest])


def _fault_roots(engine: Engine, p: PondNode) -> list[PondNode]:
    """The failed or killed lines that make ``p`` blocked, nearest first."""
    roots: list[PondNode] = []
    seen = {p.id}
    frontier = [p]
    while frontier:
        current = frontier.pop(0)
        if current.is_failed or current.is_killed:
            roots.append(current)
            continue
        for edge in current.sources:
            source = engine.ponds.get(edge.source)
            if (
                not edge.optional
                and source is not None
                and source.blocked
                and source.id not in seen
            ):
                seen.add(source.id)
                frontier.append(source)
    return roots


def _stuck(engine: Engine, p: PondNode) -> str | None:
    """Why ``p`` cannot be fresh again until someone acts, if it cannot. A failed line whose
    on-change budget still pays for a retry is simulated instead (the retry taken to pass)."""
    if not p.blocked:
        return None
    for root in _fault_roots(engine, p):
        if root.is_killed:
            return f"{root.id} is killed" if root is p else f"blocked: {root.id} is killed"
        if root.failed_f == NEVER or root.failures > root.source_retries:
            if root is p:
                return f"{p.id} failed, not retried: its on-change budget is spent"
            return f"blocked by {root.id} failure"
    return None


def _no_output(
    engine: Engine,
    p: PondNode,
    lineage: list[str],
    now: Micros,
    until: Micros,
    had_demand: bool,
    capped: bool,
) -> str:
    if not had_demand:
        return "no demand"
    if p.parked:
        return "parked by a clear or deploy: waits for new demand or newer Source data"
    for pond in [p.id, *lineage]:
        inlet = engine.ponds[pond]
        if inlet.sources or not inlet.windows:
            continue
        if window_rules.open_window(inlet.windows, now) is not None:
            continue
        opening = [(rule.next_open_after(now), rule.name) for rule in inlet.windows]
        upcoming = sorted((at, name) for at, name in opening if at is not None)
        if not upcoming:
            return f"waiting for a window on {pond}: none opens again"
        at, name = upcoming[0]
        if at > until:
            return f"waiting for window {name} on {pond}, opens {iso(at)}"
    if capped:
        return "no fresh output within what a forecast may simulate (the graph is too busy)"
    return f"no fresh output within {format_duration(until - now)} of simulated time"
