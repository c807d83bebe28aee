"""Why a line is in the state it is: the rules that hold it there, followed to their root.

:func:`explain` reads the engine at ``now`` and answers with :class:`Reason` values, each naming
the section of the rule set it comes from (the spec's section names, as ``docs/concepts/``
explains them) and the line it points at. A queued line's chain runs from the demand it holds,
through the Source that holds it back, to what that Source is doing; a blocked line's runs down
its required Sources to the failure at the root. :func:`explain_cause` says why a past run
started, from the :class:`~duckstring.engine.pond.RunCause` recorded when it began.

Pure: it reads the engine and changes nothing. Expected run times come from the host (measured
Ripple durations), never from guesses.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from duckstring.engine import windows as window_rules
from duckstring.engine.clock import NEVER, SECOND, Micros, from_micros
from duckstring.engine.core import Engine
from duckstring.engine.pond import (
    FORCE,
    PUSH,
    RETRY,
    RUNNING,
    SINK,
    WAKE,
    Demand,
    Failure,
    PondNode,
    Run,
    RunCause,
)

#: Measured durations: line -> Ripple -> seconds.
Durations = Mapping[str, Mapping[str, float]]

#: The sections of the rule set a reason cites.
FRESHNESS = "Freshness"
POND_STATE = "Pond state"
RULES = "Rules"
TRIGGERS = "Triggers"
WINDOWS = "Windows (Inlets)"
CONTROL = "Control verbs (one Pond, no propagation)"
FAULTS = "Faults"

_TRIGGER_NAMES = {
    "tap": "Tap",
    "wave": "Wave",
    "pulse": "Pulse",
    "tide": "Tide",
    "wake": "wake",
    "force": "force",
    "pull": "pull",
}


@dataclass(frozen=True)
class Reason:
    """One step of an explanation: what holds the line, by which rule, at which line."""

    kind: str
    rule: str
    line: str
    text: str
    #: Facts behind the text: engine times as microseconds, durations as seconds.
    detail: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "rule": self.rule,
            "line": self.line,
            "text": self.text,
            "detail": dict(self.detail),
        }


@dataclass(frozen=True)
class Explanation:
    """A line's state at ``at`` and the chain of reasons for it, root last."""

    line: str
    state: str
    at: Micros
    reasons: tuple[Reason, ...]

    @property
    def kinds(self) -> list[str]:
        return [reason.kind for reason in self.reasons]

    @property
    def summary(self) -> str:
        return f"{self.state}: " + " → ".join(reason.text for reason in self.reasons)


def explain(
    engine: Engine,
    line: str,
    now: Micros,
    durations: Durations | None = None,
    failures: Mapping[str, Failure] | None = None,
) -> Explanation:
    """Why ``line`` is in its state at ``now``. ``failures`` supplies the last failure of lines
    the engine restored without one (the host keeps them in its history)."""
    p = engine.pond(line)
    walk = _Walk(engine, now, durations or {}, failures or {})
    return Explanation(line, p.status, now, tuple(walk.reasons(p)))


def explain_cause(line: str, seq: int, cause: RunCause | None) -> tuple[Reason, ...]:
    """Why run ``seq`` of ``line`` started: the demand it met, and who supplied its freshness."""
    if cause is None:
        return (
            Reason(
                "cause_unknown", RULES, line, f"run {seq} began before causes were recorded", {}
            ),
        )
    return (_started_by(line, seq, cause), _source_freshness(line, cause))


# == the walk =====================================================================================


class _Walk:
    def __init__(
        self, engine: Engine, now: Micros, durations: Durations, failures: Mapping[str, Failure]
    ) -> None:
        self.engine = engine
        self.now = now
        self.durations = durations
        self.failures = failures
        self.seen: set[str] = set()

    def reasons(self, p: PondNode) -> list[Reason]:
        if p.id in self.seen:
            return []  # a diamond reaches a line twice; it is explained once
        self.seen.add(p.id)
        if p.is_failed:
            return self.failed(p)
        if p.is_killed:
            hint = _hint("clear", p.id, self.engine)
            return [
                Reason(
                    "killed",
                    CONTROL,
                    p.id,
                    f"{p.id} was killed; run {hint} (or wake or force it)",
                    {"hint": hint},
                )
            ]
        if p.blocked:
            return self.blocked(p)
        out: list[Reason] = []
        running = [run for run in p.runs.values() if run.status == RUNNING]
        if running:
            out.append(self.running(p, max(running, key=lambda run: run.seq), upstream=False))
        if p.has_demand:
            out.extend(self.demand(p))
        elif running and any(node.has_pull for node in p.ripples.order):
            out.append(
                Reason(
                    "holds_pull",
                    RULES,
                    _by(p),
                    "holds pull for its next run (its Ripples re-arm it as they start)",
                    _demand_detail(p.pull_demand),
                )
            )
        elif not running:
            out.extend(self.idle(p))
        return out

    # -- faults ----------------------------------------------------------------------------

    def failed(self, p: PondNode) -> list[Reason]:
        failure = p.failure or self.failures.get(p.id)
        hint = _hint("clear", p.id, self.engine)
        text = f"{p.id} failed"
        detail: dict[str, Any] = {
            "failed_f": _out(p.failed_f),
            "failures": p.failures,
            "hint": hint,
        }
        if failure is not None:
            text += f" at {_clock(failure.at)}, {failure.error}"
            detail.update(seq=failure.seq, at=failure.at, error=failure.error)
        reasons = [Reason("failed", FAULTS, p.id, f"{text}; run {hint}", detail)]
        used, budget = p.failures - 1, p.source_retries
        budget_detail = {"used": used, "budget": budget, "failures": p.failures}
        if p.failures > budget:
            reasons.append(
                Reason(
                    "budget_spent",
                    FAULTS,
                    p.id,
                    f"failed, not retried: on-change budget spent ({used} of {budget})",
                    budget_detail,
                )
            )
            return reasons
        reasons.append(
            Reason(
                "retries_on_change",
                FAULTS,
                p.id,
                f"retries when its Sources update (on-change budget {used} of {budget} spent)",
                budget_detail,
            )
        )
        reasons.extend(self.gate(p, target=None))
        return reasons

    def blocked(self, p: PondNode) -> list[Reason]:
        for edge in p.sources:
            source = self.engine.ponds.get(edge.source)
            if not edge.optional and source is not None and source.blocked:
                reason = Reason(
                    "blocked_by",
                    FAULTS,
                    source.id,
                    f"blocked by {source.id}",
                    {"source": source.id, "status": source.status},
                )
                return [reason, *self.reasons(source)]
        return []  # not reached: blocked means failed, killed or a required Source blocked

    # -- runs --------------------------------------------------------------------------------

    def running(self, p: PondNode, run: Run, *, upstream: bool) -> Reason:
        busy = [node.name for node in p.ripples.order if node.busy]
        expected = _expected_seconds(p, self.durations.get(p.id, {}))
        left = None
        if expected is not None:
            left = round(max(0.0, expected - (self.now - run.started_at) / SECOND), 3)
        detail: dict[str, Any] = {
            "seq": run.seq,
            "f": _out(run.f),
            "started_at": run.started_at,
            "ripples": busy,
            "expected_seconds": expected,
            "expected_done_in": left,
            "cause": None if run.cause is None else run.cause.to_row(),
        }
        doing = "running" if busy else "began"
        text = f"{p.id} {doing} run {run.seq}"
        if busy:
            text += f" ({', '.join(busy)})"
        else:
            text += ", waiting for its Duck or publishing"
        if left is not None:
            text += f", expected done in {_span(left)}"
        kind = "source_running" if upstream else "running" if busy else "queued"
        return Reason(kind, RULES, p.id, text, detail)

    # -- demand ------------------------------------------------------------------------------

    def demand(self, p: PondNode) -> list[Reason]:
        out: list[Reason] = []
        target: Micros | None = None
        if p.targets:
            target = p.targets[0]
            delivered = p.push_demand.get(target)
            detail = {**_demand_detail(delivered), "target": target, "targets": len(p.targets)}
            out.append(
                Reason(
                    "holds_push",
                    RULES,
                    _by(p, delivered),
                    f"holds push target {_clock(target)} {_from(p, delivered)}",
                    detail,
                )
            )
        if p.has_pull:
            held = p.pull_demand
            local = " (local: its Sources are not pulled)" if p.pull_local else ""
            out.append(
                Reason(
                    "holds_pull",
                    CONTROL if p.pull_local else RULES,
                    _by(p, held),
                    f"holds pull {_from(p, held)}{local}",
                    {**_demand_detail(held), "local": p.pull_local},
                )
            )
        if p.parked:
            out.append(
                Reason(
                    "parked",
                    CONTROL,
                    p.id,
                    "parked by a clear or deploy: waits for new demand or a Source's endF to "
                    "advance",
                    {},
                )
            )
            return out
        out.extend(self.gate(p, target))
        return out

    def gate(self, p: PondNode, target: Micros | None) -> list[Reason]:
        """Why the run the line wants cannot start yet (pull, or push to ``target``)."""
        source_f, _ = self.engine.source_f(p, self.now)
        if not p.sources:
            if p.windows:
                return self.window(p, source_f)
            return [
                Reason(
                    "starting",
                    FRESHNESS,
                    p.id,
                    "starts at the next clock tick (sourceF = now must pass its startF)",
                    {"start_f": _out(p.start_f)},
                )
            ]
        required = [e for e in p.sources if not e.optional] or p.sources
        lagging: list[tuple[Micros, str, PondNode | None]] = []
        for edge in required:
            source = self.engine.ponds.get(edge.source)
            end_f = NEVER if source is None else source.end_f
            holds_back = end_f < target if target is not None else end_f <= p.start_f
            if holds_back:
                lagging.append((end_f, edge.source, source))
        if not lagging:
            return [
                Reason(
                    "starting",
                    FRESHNESS,
                    p.id,
                    "its Sources are fresh enough: it starts now",
                    {"source_f": _out(source_f)},
                )
            ]
        optional_only = not any(not e.optional for e in p.sources)
        end_f, source_id, source = (max if optional_only else min)(lagging, key=lambda t: t[0])
        detail: dict[str, Any] = {
            "source": source_id,
            "source_end_f": _out(end_f),
            "lagging": [item[1] for item in lagging],
        }
        if end_f == NEVER:
            detail["target" if target is not None else "start_f"] = (
                target if target is not None else _out(p.start_f)
            )
            why = "it has not completed a run yet"
        elif target is not None:
            detail["target"] = target
            why = f"its endF {_clock(end_f)} is older than the target {_clock(target)}"
        else:
            detail["start_f"] = _out(p.start_f)
            why = (
                f"its endF {_clock(end_f)} is not newer than this Pond's startF {_clock(p.start_f)}"
            )
        waits = Reason(
            "waits_for_source", FRESHNESS, source_id, f"waits for {source_id} ({why})", detail
        )
        if source is None:
            return [
                waits,
                Reason(
                    "not_deployed",
                    POND_STATE,
                    source_id,
                    f"{source_id} is not deployed (a missing required Source counts as never)",
                    {},
                ),
            ]
        running = [run for run in source.runs.values() if run.status == RUNNING]
        if running and not source.blocked:
            newest = max(running, key=lambda run: run.seq)
            self.seen.add(source.id)
            return [waits, self.running(source, newest, upstream=True)]
        return [waits, *self.reasons(source)]

    def window(self, p: PondNode, source_f: Micros) -> list[Reason]:
        opens, name = None, None
        for rule in p.windows:
            at = rule.next_open_after(self.now)
            if at is not None and (opens is None or at < opens):
                opens, name = at, rule.name
        detail: dict[str, Any] = {
            "windows": [rule.name for rule in p.windows],
            "window": name,
            "opens": opens,
            "opens_in": None if opens is None else (opens - self.now) / SECOND,
        }
        when = "no window opens again" if opens is None else _opening(opens, self.now)
        if source_f != NEVER:
            open_now = window_rules.open_window(p.windows, self.now)
            detail["ran_in"] = None if open_now is None else open_now.rule
            text = (
                f"already ran in window {detail['ran_in']} (fresh until {_clock(source_f)}); "
                f"waiting for window {name} on {p.id}, {when}"
            )
            return [Reason("window_used", WINDOWS, p.id, text, detail)]
        text = f"waiting for window {name} on {p.id}, {when}"
        if opens is None:
            text = f"waiting for a window on {p.id}: {when}"
        return [Reason("window_closed", WINDOWS, p.id, text, detail)]

    # -- idle --------------------------------------------------------------------------------

    def idle(self, p: PondNode) -> list[Reason]:
        trigger = p.trigger
        if trigger is not None and trigger.kind == "tide":
            due = self.engine.tide_due(p, self.now)
            bound = (trigger.bound or 0) / SECOND
            due_in = None if due is None else max(0.0, (due - self.now) / SECOND)
            detail = {"bound": bound, "due": due, "due_in": due_in}
            text = f"its Tide({_span(bound)}) adds the next target"
            if due is not None and due_in is not None:
                text += f" at {_clock(due)} (in {_span(due_in)})"
            return [Reason("tide_waits", TRIGGERS, p.id, text, detail)]
        if p.parked and trigger is not None:
            return [
                Reason(
                    "parked",
                    CONTROL,
                    p.id,
                    f"its {_TRIGGER_NAMES[trigger.kind]} is parked by a clear or deploy: waits "
                    "for new demand or a Source's endF to advance",
                    {"trigger": trigger.kind},
                )
            ]
        sinks = self.engine.sinks(p.id)
        holding = [s.id for s in sinks if s.has_demand]
        if holding:
            text = (
                f"no demand it can meet: {', '.join(holding)} hold demand, and this Pond "
                "already started ahead of them"
            )
        else:
            text = "no demand (no trigger, no Sink holds pull or a target)"
        return [
            Reason(
                "no_demand",
                TRIGGERS,
                p.id,
                text,
                {"trigger": None, "sinks": [s.id for s in sinks], "sinks_holding": holding},
            )
        ]


# == past runs ====================================================================================


def _started_by(line: str, seq: int, cause: RunCause) -> Reason:
    demand = cause.demand
    detail = {**cause.to_row(), "seq": seq}
    head = f"run {seq} of {line} was started by"
    if cause.kind == RETRY:
        return Reason("started_by", FAULTS, line, f"{head} retry on change", detail)
    if cause.kind in (FORCE, WAKE):
        return Reason("started_by", CONTROL, line, f"{head} {cause.kind}", detail)
    what = "push" if cause.kind == PUSH else "pull"
    if cause.target is not None:
        what += f" target {_clock(cause.target)}"
    if demand is None:
        return Reason("started_by", RULES, line, f"{head} {what}", detail)
    trigger = _TRIGGER_NAMES.get(demand.trigger, demand.trigger)
    if demand.via == SINK:
        on = "" if demand.origin == demand.by else f" on {demand.origin}"
        text = f"{head} {what} from {demand.by} ({trigger}{on})"
        return Reason("started_by", RULES, demand.by, text, detail)
    return Reason("started_by", TRIGGERS, demand.by, f"{head} its {trigger} ({what})", detail)


def _source_freshness(line: str, cause: RunCause) -> Reason:
    detail = cause.to_row()
    f = _clock(cause.source_f)
    if cause.source is not None:
        run = f" run {cause.source_run}" if cause.source_run is not None else ""
        text = f"source freshness {f} from {cause.source}{run}"
        return Reason("source_freshness", FRESHNESS, cause.source, text, detail)
    if cause.window is not None:
        text = f"freshness {f}: the end of window {cause.window}"
        return Reason("source_freshness", WINDOWS, line, text, detail)
    if cause.kind == FORCE:
        return Reason(
            "source_freshness", CONTROL, line, f"re-ran at its current freshness {f}", detail
        )
    return Reason(
        "source_freshness", FRESHNESS, line, f"freshness {f}: the time it started", detail
    )


# == helpers ======================================================================================


def _expected_seconds(p: PondNode, durations: Mapping[str, float]) -> float | None:
    """A whole run's expected length: the longest path through the Ripples (independent
    ones run side by side); None while a Ripple has no measured duration."""
    finish: dict[str, float] = {}
    for node in p.ripples.order:
        took = durations.get(node.name)
        if took is None:
            return None
        finish[node.name] = (
            max((finish[parent.name] for parent in node.parents), default=0.0) + took
        )
    return round(max(finish[leaf.name] for leaf in p.ripples.leaves), 3)


def _demand_detail(demand: Demand | None) -> dict[str, Any]:
    if demand is None:
        return {"by": None, "via": None, "origin": None, "trigger": None}
    return {"by": demand.by, "via": demand.via, "origin": demand.origin, "trigger": demand.trigger}


def _by(p: PondNode, demand: Demand | None = None) -> str:
    return p.id if demand is None else demand.by


def _from(p: PondNode, demand: Demand | None) -> str:
    """``from the Wave on reports@1``, ``from reports@1 (Tap on x@1)``."""
    if demand is None:
        return "(where from was not recorded: it came before a restart)"
    trigger = _TRIGGER_NAMES.get(demand.trigger, demand.trigger)
    if demand.via != SINK:
        return f"from the {trigger} on {demand.by}"
    on = "" if demand.origin == demand.by else f" on {demand.origin}"
    return f"from {demand.by} ({trigger}{on})"


def _hint(verb: str, line: str, engine: Engine) -> str:
    name, _, major = line.rpartition("@")  # line ids are ``name@major``
    others = [other for other in engine.ponds if other != line and other.startswith(f"{name}@")]
    return f"duckstring control {verb} {name}" + (f" --major {major}" if others else "")


def _out(value: Micros) -> Micros | None:
    return None if value == NEVER else value


def _clock(value: Micros | None) -> str:
    if value is None or value == NEVER:
        return "never"
    return from_micros(value).strftime("%H:%M:%S")


def _opening(opens: Micros, now: Micros) -> str:
    moment = from_micros(opens)
    day = "" if opens - now < 86_400 * SECOND else f"{moment:%Y-%m-%d} "
    return f"opens {day}{moment:%H:%M} UTC (in {_span((opens - now) / SECOND)})"


def _span(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f} s"
    whole = int(seconds)
    if whole < 3600:
        return f"{whole // 60} min {whole % 60} s"
    if whole < 86_400:
        return f"{whole // 3600} h {whole % 3600 // 60} min"
    return f"{whole // 86_400} d {whole % 86_400 // 3600} h"


__all__ = ["Durations", "Explanation", "Reason", "explain", "explain_cause"]
