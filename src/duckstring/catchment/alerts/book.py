"""Deciding what to tell, and whom: pure rules over the lines' fault and freshness facts.

Failures are deduplicated by root cause. An incident is open exactly while its root line is
failed: the first observation of the failure opens it (one ``failure`` notice per rule that
watches the root or a line it blocks, listing every line it blocks), nothing repeats while it
stays failed, and its next success or a clear (a redeploy clears too) closes it with one
``recovery`` notice. A line that is only blocked never opens one. Other rule kinds are
*conditions*: a small function ``(line, now) -> Breach | None`` that fires once when it starts
to hold and re-arms when it stops. ``forecast-breach`` reads the line's latest
:class:`Prediction` too, which the host forecasts off the engine's thread and passes in with
:meth:`AlertBook.predicted`. Nothing here reads a clock or does I/O; the host passes
``now`` and the facts, and persists the changes it is given back.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from duckstring.catchment.alerts.rules import (
    FAILURE,
    FORECAST_BREACH,
    RECOVERY,
    STALE,
    AlertRule,
)
from duckstring.engine.clock import NEVER, Micros, iso
from duckstring.engine.durations import format_duration
from duckstring.engine.pond import PondNode

#: Apprise notification types, by what a notice says.
LEVELS = {
    "failure": "failure",
    "recovery": "success",
    "stale": "warning",
    "forecast-breach": "warning",
    "test": "info",
}
#: How a condition's notice is titled, by rule kind.
_BREACHED = {STALE: "is stale", "forecast-breach": "will be fresh too late"}


@dataclass(frozen=True, slots=True)
class LineFacts:
    """What alerts need of one line: its faults, its required Sources and its freshness."""

    id: str
    failed: bool
    killed: bool
    blocked: bool
    requires: tuple[str, ...]
    end_f: Micros
    d: Micros

    def staleness(self, now: Micros) -> Micros | None:
        """As ``GET /api/status`` computes it: ``now + D - endF``, None before a first run."""
        return None if self.end_f == NEVER else now + self.d - self.end_f


def facts_of(p: PondNode) -> LineFacts:
    return LineFacts(
        p.id,
        p.is_failed,
        p.is_killed,
        p.blocked,
        tuple(edge.source for edge in p.sources if not edge.optional),
        p.end_f,
        p.d,
    )


@dataclass(frozen=True, slots=True)
class Incident:
    """A failed root line, the freshness it had as it failed and the lines it blocked."""

    root: str
    opened_at: Micros
    end_f: Micros
    error: str | None
    blocked: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Prediction:
    """What the forecast of one line says, as far as alerts need it."""

    line: str
    at: Micros
    next_fresh: Micros | None
    #: The line's Tide bound (its own standing Tide), if it has one.
    tide: Micros | None
    #: Whether that Tide holds (None: no Tide, or it cannot be told).
    holds: bool | None
    cadence: float | None
    #: ``line.ripple (seconds)`` of the bottleneck, if there is one.
    bottleneck: str | None
    #: Why there is no next fresh output.
    reason: str | None


@dataclass(frozen=True, slots=True)
class Breach:
    line: str
    summary: str


@dataclass(frozen=True, slots=True)
class Condition:
    """A rule kind evaluated per line: whether it is breached now, and the earliest moment it
    could be (None: not while the facts stay as they are), so the host sets a timer instead
    of polling."""

    breach: Callable[[LineFacts, Micros], Breach | None]
    next_check: Callable[[LineFacts, Micros], Micros | None]


def stale_condition(bound: Micros) -> Condition:
    """Staleness past ``bound``."""

    def breach(line: LineFacts, now: Micros) -> Breach | None:
        staleness = line.staleness(now)
        if staleness is None or staleness <= bound:
            return None
        return Breach(
            line.id,
            f"{line.id} is {format_duration(staleness)} stale, past its bound of "
            f"{format_duration(bound)}",
        )

    def next_check(line: LineFacts, now: Micros) -> Micros | None:
        if line.end_f == NEVER:
            return None
        return line.end_f - line.d + bound + 1

    return Condition(breach, next_check)


def forecast_condition(bound: Micros | None, predictions: Mapping[str, Prediction]) -> Condition:
    """The forecast says the line's next fresh output comes too late: its staleness will pass
    ``bound`` (or, without one, the line's Tide bound) before it lands, or its Tide cannot be
    held at all. A failed, killed or blocked line is left to the failure alerts of its root."""

    def breach(line: LineFacts, now: Micros) -> Breach | None:
        prediction = predictions.get(line.id)
        if prediction is None or line.failed or line.killed or line.blocked:
            return None
        limit = bound if bound is not None else prediction.tide
        if limit is None:
            return None
        neck = f"; bottleneck {prediction.bottleneck}" if prediction.bottleneck else ""
        if bound is None and prediction.holds is False:
            pace = (
                f"it settles into one fresh output every {prediction.cadence:.1f} s"
                if prediction.cadence is not None
                else f"no fresh output is expected ({prediction.reason or 'no reason given'})"
            )
            return Breach(
                line.id,
                f"the forecast says {line.id} cannot hold its Tide of "
                f"{format_duration(limit)}: {pace}{neck}",
            )
        if prediction.next_fresh is None or line.end_f == NEVER:
            return None
        late = prediction.next_fresh + line.d - line.end_f
        if late <= limit:
            return None
        return Breach(
            line.id,
            f"the forecast says the next fresh output of {line.id} comes at "
            f"{iso(prediction.next_fresh)}, {format_duration(late)} stale by then, past its "
            f"bound of {format_duration(limit)}{neck}",
        )

    # A prediction changes only when the host forecasts again: nothing to wake up for.
    return Condition(breach, lambda line, now: None)


#: The condition of each rule kind that is one, from the rule and the latest predictions.
CONDITIONS: dict[str, Callable[[AlertRule, Mapping[str, Prediction]], Condition]] = {
    STALE: lambda rule, predictions: stale_condition(rule.bound or 0),
    FORECAST_BREACH: lambda rule, predictions: forecast_condition(rule.bound, predictions),
}


def rule_state(rule: AlertRule) -> str:
    """``active``, or why the rule cannot fire."""
    if rule.on in (FAILURE, RECOVERY) or rule.on in CONDITIONS:
        return "active"
    return f"unknown kind {rule.on!r}"


@dataclass(frozen=True, slots=True)
class Notice:
    """One notification for one rule, as it goes into the outbox."""

    rule: str
    kind: str
    line: str | None
    at: Micros
    title: str
    body: str

    @property
    def level(self) -> str:
        return LEVELS[self.kind]


@dataclass(frozen=True, slots=True)
class Opened:
    incident: Incident


@dataclass(frozen=True, slots=True)
class Closed:
    root: str


@dataclass(frozen=True, slots=True)
class Fired:
    rule: str
    line: str
    at: Micros


@dataclass(frozen=True, slots=True)
class Rearmed:
    rule: str
    line: str


Change = Opened | Closed | Fired | Rearmed | Notice


def _hint(line: str) -> str:
    name, _, major = line.partition("@")
    return f"duckstring control clear {name} --major {major}"


def notice_of_test(rule: AlertRule, now: Micros) -> Notice:
    return Notice(
        rule.name,
        "test",
        None,
        now,
        f"Duckstring: test of alert {rule.name}",
        f"A test notification of the alert rule {rule.name} ({rule.describe_on}), sent "
        f"{iso(now)}. It reaches you: the rule's URL works.",
    )


class AlertBook:
    """The open incidents, the fired conditions and the last facts of every line."""

    def __init__(
        self,
        rules: Iterable[AlertRule] = (),
        incidents: Iterable[Incident] = (),
        fired: Iterable[tuple[str, str]] = (),
        error_of: Callable[[str], str | None] = lambda line: None,
    ) -> None:
        self.lines: dict[str, LineFacts] = {}
        #: The latest forecast of each line a forecast-breach rule watches.
        self.predictions: dict[str, Prediction] = {}
        self.incidents = {incident.root: incident for incident in incidents}
        self.fired = set(fired)
        #: The error a failed line's run ended with (the host reads its run history).
        self.error_of = error_of
        self.rules: dict[str, AlertRule] = {}
        self._conditions: dict[str, Condition] = {}
        self._set(rules)

    # -- what the host tells ---------------------------------------------------------------

    def observe(self, facts: Iterable[LineFacts], now: Micros) -> list[Change]:
        """New facts of some lines (all of them after a restart): what that opens, closes,
        fires and re-arms."""
        changed = []
        for line in facts:
            self.lines[line.id] = line
            changed.append(line.id)
        changes: list[Change] = []
        for line_id in sorted(changed):
            self._review_faults(line_id, now, changes)
        for line_id in sorted(changed):
            self._review_conditions(line_id, now, changes)
        return changes

    def predicted(self, predictions: Iterable[Prediction], now: Micros) -> list[Change]:
        """New forecasts of some lines: what fires and re-arms."""
        changed = []
        for prediction in predictions:
            self.predictions[prediction.line] = prediction
            changed.append(prediction.line)
        changes: list[Change] = []
        for line_id in sorted(changed):
            if line_id in self.lines:
                self._review_conditions(line_id, now, changes)
        return changes

    def forecasts_wanted(self) -> bool:
        """Whether a rule reads forecasts (the host forecasts only then)."""
        return any(rule.on == FORECAST_BREACH for rule in self.rules.values())

    def tick(self, now: Micros) -> list[Change]:
        """Time passed (a condition's next check came): what fires now."""
        changes: list[Change] = []
        for line_id in sorted(self.lines):
            self._review_conditions(line_id, now, changes)
        return changes

    def set_rules(self, rules: Iterable[AlertRule], now: Micros) -> list[Change]:
        """The rules changed: conditions of new rules are checked at once; a removed rule
        forgets what it fired."""
        self._set(rules)
        forgotten = sorted(key for key in self.fired if key[0] not in self.rules)
        self.fired.difference_update(forgotten)
        changes: list[Change] = [Rearmed(rule, line) for rule, line in forgotten]
        return changes + self.tick(now)

    def next_check(self, now: Micros) -> Micros | None:
        """When :meth:`tick` must be called next; None while no condition can come true."""
        due: Micros | None = None
        for name, condition in self._conditions.items():
            rule = self.rules[name]
            for line in self.lines.values():
                if (name, line.id) in self.fired or not rule.watches(line.id):
                    continue
                at = condition.next_check(line, now)
                if at is not None and (due is None or at < due):
                    due = at
        return due

    # -- the rules -------------------------------------------------------------------------

    def _set(self, rules: Iterable[AlertRule]) -> None:
        self.rules = {rule.name: rule for rule in rules}
        self._conditions = {
            rule.name: CONDITIONS[rule.on](rule, self.predictions)
            for rule in self.rules.values()
            if rule.on in CONDITIONS
        }

    def _review_faults(self, line_id: str, now: Micros, changes: list[Change]) -> None:
        line = self.lines[line_id]
        incident = self.incidents.get(line_id)
        if line.failed and incident is None:
            incident = Incident(
                line_id, now, line.end_f, self.error_of(line_id), self._blocked_by(line_id)
            )
            self.incidents[line_id] = incident
            changes.append(Opened(incident))
            changes.extend(self._notices(FAILURE, incident, now))
        elif not line.failed and incident is not None:
            del self.incidents[line_id]
            changes.append(Closed(line_id))
            changes.extend(self._notices(RECOVERY, incident, now))

    def _blocked_by(self, root: str) -> tuple[str, ...]:
        """The lines ``root`` blocks: every blocked line downstream through required Sources,
        but those that failed themselves (each is the root of its own incident)."""
        sinks: dict[str, list[str]] = {}
        for line in self.lines.values():
            for source in line.requires:
                sinks.setdefault(source, []).append(line.id)
        found: dict[str, None] = {}
        frontier = [root]
        while frontier:
            for sink in sinks.get(frontier.pop(0), ()):
                facts = self.lines[sink]
                if sink in found or sink == root or not facts.blocked:
                    continue
                found[sink] = None
                frontier.append(sink)
        return tuple(sorted(s for s in found if not self.lines[s].failed))

    def _notices(self, kind: str, incident: Incident, now: Micros) -> list[Notice]:
        about = (incident.root, *incident.blocked)
        notices = []
        for rule in sorted(self.rules.values(), key=lambda r: r.name):
            if rule.on == kind and any(rule.watches(line) for line in about):
                title, body = _incident_text(kind, incident, self.lines[incident.root], now)
                notices.append(Notice(rule.name, kind, incident.root, now, title, body))
        return notices

    def _review_conditions(self, line_id: str, now: Micros, changes: list[Change]) -> None:
        line = self.lines[line_id]
        for name, condition in self._conditions.items():
            rule = self.rules[name]
            if not rule.watches(line_id):
                continue
            key = (name, line_id)
            breach = condition.breach(line, now)
            if breach is not None and key not in self.fired:
                self.fired.add(key)
                changes.append(Fired(name, line_id, now))
                changes.append(_condition_notice(rule, breach, self._blocker_of(line_id), now))
            elif breach is None and key in self.fired:
                self.fired.discard(key)
                changes.append(Rearmed(name, line_id))

    def _blocker_of(self, line_id: str) -> str | None:
        """The open incident whose root keeps ``line_id`` blocked, if one does."""
        for incident in self.incidents.values():
            if line_id == incident.root or line_id in incident.blocked:
                return incident.root
        return None


def _incident_text(kind: str, incident: Incident, root: LineFacts, now: Micros) -> tuple[str, str]:
    blocked = ", ".join(incident.blocked) if incident.blocked else "none"
    if kind == FAILURE:
        error = (incident.error or "the run failed").strip().splitlines()
        return (
            f"Duckstring: {incident.root} failed",
            f"{incident.root} failed at {iso(now)}: {error[-1] if error else 'the run failed'}\n"
            f"Blocked downstream ({len(incident.blocked)}): {blocked}\n"
            f"Fix it, then redeploy or run `{_hint(incident.root)}`.",
        )
    how = "succeeded again" if root.end_f > incident.end_f else "was cleared"
    return (
        f"Duckstring: {incident.root} recovered",
        f"{incident.root} {how} at {iso(now)} (failed since {iso(incident.opened_at)}).\n"
        f"No longer blocked ({len(incident.blocked)}): {blocked}",
    )


def _condition_notice(rule: AlertRule, breach: Breach, blocker: str | None, now: Micros) -> Notice:
    body = f"{breach.summary} at {iso(now)} (alert {rule.name}: {rule.describe_on})."
    if blocker is not None and blocker != breach.line:
        body += f"\nIt waits on {blocker}, which failed."
    title = f"Duckstring: {breach.line} {_BREACHED.get(rule.on, rule.on)}"
    return Notice(rule.name, rule.on, breach.line, now, title, body)
