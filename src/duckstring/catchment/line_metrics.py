"""The metrics of each Pond line: what ``GET /metrics`` says of every line, rendered by
``prometheus_client`` and kept per line until the line changes.

Rendering costs ``prometheus_client`` some 4 µs a sample; a line has ~70 of them with its
histograms, so a thousand lines rendered afresh would cost a scrape a third of a second. Nearly
all of them move only when the line's state does (its ``rev``, which the engine bumps on every
change, as :class:`~duckstring.catchment.status.StatusCache` relies on too) or when its
histograms observe (:attr:`~duckstring.catchment.timings.LineTimings.version`). So each line's
samples of each family are rendered once per change and kept as text; a scrape renders afresh
only the two families that move with the clock (freshness age and staleness) and joins the
rest under each family's header. Every byte is still ``prometheus_client``'s own.

:meth:`LineMetrics.snapshot` reads the engine and must run on its thread (the event loop);
:meth:`LineSnapshot.render` only reads the snapshot, the histograms and the cache, and runs on
a worker thread, one scrape at a time.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from prometheus_client import generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.utils import floatToGoString

from duckstring.catchment.store.db import Deployment
from duckstring.catchment.timings import LineTimings, RunTimings
from duckstring.engine.clock import SECOND, Micros
from duckstring.engine.core import Engine
from duckstring.engine.pond import RUNNING, PondNode

#: Every value of ``state`` (:attr:`PondNode.status`): each line has a sample of each.
LINE_STATES = ("idle", "queued", "running", "blocked", "failed", "killed")


class Families:
    """A ``prometheus_client`` collector over families already built."""

    def __init__(self, families: Iterable[Metric]) -> None:
        self._families = list(families)

    def collect(self) -> Iterable[Metric]:
        return self._families


def render(families: Iterable[Metric]) -> bytes:
    """The families in Prometheus's text format, as ``prometheus_client`` writes it."""
    return generate_latest(Families(families))


def _samples_only(family: Metric) -> bytes:
    # A family's text is its HELP line, its TYPE line, then one line per sample; HELP text
    # never holds a raw newline (prometheus_client escapes it).
    return render([family]).split(b"\n", 2)[2]


def _gauge(name: str, help_text: str, labels: tuple[str, ...]) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, help_text, labels=labels)


def _counter(name: str, help_text: str) -> CounterMetricFamily:
    return CounterMetricFamily(name, help_text, labels=("line",))


def _without_created(family: Metric) -> Metric:
    """A histogram's family without its ``_created`` samples: in the text format they become a
    family of their own after it, which could not be kept per line (the time a histogram was
    made is no figure of the line's)."""
    kept = Metric(family.name, family.documentation, family.type)
    kept.samples = [s for s in family.samples if not s.name.endswith("_created")]
    return kept


@dataclass(frozen=True, slots=True)
class LineFigures:
    """What one line's kept families show: everything that moves only with its ``rev``."""

    line: str
    deployment: Deployment
    state: str
    started: int
    completed: int
    failed: int
    in_flight: int
    failures: int
    immediate_left: int
    on_change_left: int

    @classmethod
    def of(cls, p: PondNode, deployment: Deployment, timings: RunTimings) -> LineFigures:
        running = [run for run in p.runs.values() if run.status == RUNNING]
        line_timings = timings.lines.get(p.id)
        # The newest run in flight spends the budget it began with (the Duck spends it; the
        # Catchment counts the retries it reports); with none, the next run gets all of it.
        immediate = p.immediate_retries
        if running:
            newest = max(running, key=lambda run: run.seq)
            given = p.ripples.budgets.get(newest.f, p.immediate_retries)
            immediate = max(0, given - timings.retries_spent(p.id, newest.seq))
        return cls(
            line=p.id,
            deployment=deployment,
            state=p.status,
            started=p.run_seq,
            completed=p.runs_completed,
            failed=0 if line_timings is None else line_timings.failed,
            in_flight=len(running),
            failures=p.failures,
            immediate_left=immediate,
            # The failure that made the Pond failed spent nothing: each retry after it does.
            on_change_left=max(0, p.source_retries - max(0, p.failures - 1)),
        )

    def families(self, timings: LineTimings | None) -> list[Metric]:
        """The kept families, in :func:`kept_families` order, with this line's samples only."""
        line, d = self.line, self.deployment
        families = kept_families()
        info, state, started, completed, failed, in_flight, failures, retries = families[:8]
        info.add_metric([line, d.name, str(d.major), d.version, d.kind], 1)
        for value in LINE_STATES:
            state.add_metric([line, value], 1 if self.state == value else 0)
        started.add_metric([line], self.started)
        completed.add_metric([line], self.completed)
        failed.add_metric([line], self.failed)
        in_flight.add_metric([line], self.in_flight)
        failures.add_metric([line], self.failures)
        retries.add_metric([line, "immediate"], self.immediate_left)
        retries.add_metric([line, "on_change"], self.on_change_left)
        if timings is not None:
            families[8] = _without_created(next(iter(timings.runs.collect())))
            families[9] = _without_created(next(iter(timings.ripples.collect())))
        return families


#: A line with no histograms yet: its two are empty.
_NO_TIMINGS = LineTimings("")


def kept_families() -> list[Any]:
    """The families kept per line, empty, in the order the document writes them."""
    return [
        _gauge(
            "duckstring_line_info",
            "Each deployed line: 1, with its Pond, major, selected version and kind.",
            ("line", "name", "major", "version", "kind"),
        ),
        _gauge(
            "duckstring_line_state",
            "1 for the line's state (status in /api/status), 0 for every other.",
            ("line", "state"),
        ),
        _counter(
            "duckstring_line_runs_started", "Pond Runs started on the line (gen in /api/status)."
        ),
        _counter(
            "duckstring_line_runs_completed",
            "Pond Runs of the line completed (runs_completed in /api/status).",
        ),
        _counter(
            "duckstring_line_runs_failed", "Pond Runs of the line its history records as failed."
        ),
        _gauge(
            "duckstring_line_runs_in_flight",
            "Pond Runs of the line begun and not yet ended.",
            ("line",),
        ),
        _gauge(
            "duckstring_line_failures",
            "Failed Pond Runs of the line since it last succeeded (failures in /api/status).",
            ("line",),
        ),
        _gauge(
            "duckstring_line_retries_left",
            "Retries the line may still make: immediate (a Ripple again, in the run in flight) "
            "and on_change (a failed Pond Run again, once its input changes).",
            ("line", "kind"),
        ),
        _without_created(next(iter(_NO_TIMINGS.runs.collect()))),
        _without_created(next(iter(_NO_TIMINGS.ripples.collect()))),
    ]


#: The header (HELP and TYPE lines) of every kept family, in the order they are written.
KEPT_HEADERS: tuple[bytes, ...] = tuple(render([family]) for family in kept_families())


def clock_families() -> tuple[GaugeMetricFamily, GaugeMetricFamily]:
    age = _gauge(
        "duckstring_line_freshness_age_seconds",
        "Seconds since the freshness of the "
        "line's published data (its endF); absent before its first run completes.",
        ("line",),
    )
    staleness = _gauge(
        "duckstring_line_staleness_seconds",
        "now + D - F of the line's "
        "published data, as /api/status computes it (staleness_ms); absent "
        "before its first run completes.",
        ("line",),
    )
    return age, staleness


#: The headers of the two families that move with the clock.
CLOCK_HEADERS: tuple[bytes, ...] = tuple(render([family]) for family in clock_families())


def clock_prefixes(line: str) -> tuple[bytes, bytes]:
    """What ``prometheus_client`` writes before the value of each clock family's sample of
    ``line`` (its name and escaped labels). They are rendered once per line and kept: a
    scrape then only formats the values, with the same ``floatToGoString`` the client uses,
    so the document is byte for byte the client's own (see the tests)."""
    prefixes = []
    for family in clock_families():
        family.add_metric([line], 0.0)
        sample = _samples_only(family).rstrip(b"\n")
        prefixes.append(sample[: sample.rindex(b" ") + 1])
    return prefixes[0], prefixes[1]


@dataclass(frozen=True, slots=True)
class LineSnapshot:
    """What one scrape read of the lines, on the engine's thread."""

    metrics: LineMetrics
    #: Every deployed line, in the engine's order.
    order: list[str]
    #: The lines whose kept text is out of date, with what it must show now.
    changed: list[tuple[LineFigures, LineTimings | None, tuple[int, int, Deployment]]]
    #: (line, freshness age, staleness) in seconds, for lines with published data.
    clock: list[tuple[str, float, float]]

    def render(self) -> bytes:
        """The lines' part of the document (safe off the engine's thread)."""
        return b"".join(self.parts())

    def parts(self) -> list[bytes]:
        """:meth:`render` in pieces, most of them kept text: a scrape sends them as they are
        rather than copying megabytes into one buffer first."""
        kept = self.metrics.kept
        for figures, timings, key in self.changed:
            kept[figures.line] = (key, [_samples_only(f) for f in figures.families(timings)])
        if len(kept) > len(self.order):
            for gone in set(kept) - set(self.order):
                del kept[gone]
                self.metrics.clock_prefixes.pop(gone, None)
        metrics = self.metrics
        if self.changed or metrics.blocks is None or metrics.blocks[0] != self.order:
            # Each kept family's samples joined under its header, kept until a line changes.
            metrics.blocks = (
                self.order,
                [
                    header + b"".join([kept[line][1][index] for line in self.order])
                    for index, header in enumerate(KEPT_HEADERS)
                ],
            )
        parts: list[bytes] = list(metrics.blocks[1])
        prefixes = self.metrics.clock_prefixes
        for index, header in enumerate(CLOCK_HEADERS):
            parts.append(header)
            for line, *values in self.clock:
                prefix = prefixes.get(line)
                if prefix is None:
                    prefix = prefixes[line] = clock_prefixes(line)
                value = floatToGoString(values[index])  # type: ignore[no-untyped-call]
                parts.append(prefix[index] + value.encode() + b"\n")
        return parts


class LineMetrics:
    """The kept text of every line's families, and the snapshot a scrape starts from."""

    def __init__(self, timings: RunTimings) -> None:
        self.timings = timings
        #: line -> (what it was rendered from: rev, timings version, deployment; its text per
        #: kept family). Written only by :meth:`LineSnapshot.render`, one scrape at a time.
        self.kept: dict[str, tuple[tuple[int, int, Deployment], list[bytes]]] = {}
        #: The kept families' text of every line as the last scrape joined it (with the order
        #: of the lines it holds): the next scrape reuses it when no line changed.
        self.blocks: tuple[list[str], list[bytes]] | None = None
        #: line -> what precedes its value in each clock family (see :func:`clock_prefixes`).
        self.clock_prefixes: dict[str, tuple[bytes, bytes]] = {}

    def snapshot(self, engine: Engine, lines: dict[str, Deployment], now: Micros) -> LineSnapshot:
        """Read what changed since the last scrape (on the engine's thread: cheap, ~1 µs a
        line that did not change)."""
        timings = self.timings
        order: list[str] = []
        changed = []
        clock: list[tuple[str, float, float]] = []
        for p in engine.ponds.values():
            deployment = lines.get(p.id)
            if deployment is None:
                continue
            order.append(p.id)
            line_timings = timings.lines.get(p.id)
            key = (p.rev, 0 if line_timings is None else line_timings.version, deployment)
            kept = self.kept.get(p.id)
            if kept is None or kept[0][:2] != key[:2] or kept[0][2] is not deployment:
                changed.append((LineFigures.of(p, deployment, timings), line_timings, key))
            staleness = p.staleness(now)
            if staleness is not None:  # the line has published data: endF is set
                clock.append((p.id, (now - p.end_f) / SECOND, staleness / SECOND))
        if len(timings.lines) > len(order):
            timings.forget(set(timings.lines) - set(order))
        return LineSnapshot(self, order, changed, clock)
