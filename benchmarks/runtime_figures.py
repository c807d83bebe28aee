"""Figures from a Catchment's run history: percentiles, critical paths, dispatch gaps, cadence.

Every time here is seconds since the epoch, read from the ISO instants of ``/api/runs``; the
Catchment stamps runs and the Ducks stamp Ripple attempts, on the same machine's clock.
"""

from __future__ import annotations

import itertools
import math
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


def seconds(value: str | None) -> float | None:
    if value is None:
        return None
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0–100), linear between closest ranks; NaN when empty."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else math.nan


@dataclass
class Attempt:
    ripple: str
    status: str
    started: float | None
    finished: float | None


@dataclass
class Run:
    """One Pond Run from ``/api/runs`` (with its Ripple attempts when asked for)."""

    line: str
    pond: str
    seq: int
    kind: str
    status: str
    f: float | None
    started: float | None
    finished: float | None
    error: str | None
    attempts: list[Attempt] = field(default_factory=list)

    @property
    def key(self) -> tuple[str, int]:
        return self.line, self.seq

    def first_ripple_start(self) -> float | None:
        starts = [a.started for a in self.attempts if a.started is not None]
        return min(starts) if starts else None

    def last_ripple_finish(self) -> float | None:
        ends = [a.finished for a in self.attempts if a.finished is not None]
        return max(ends) if ends else None

    def ripple_durations(self) -> dict[str, float]:
        """Each Ripple's time from its first attempt's start to its last attempt's end."""
        spans: dict[str, tuple[float, float]] = {}
        for attempt in self.attempts:
            if attempt.started is None or attempt.finished is None:
                continue
            low, high = spans.get(attempt.ripple, (attempt.started, attempt.finished))
            spans[attempt.ripple] = (min(low, attempt.started), max(high, attempt.finished))
        return {ripple: high - low for ripple, (low, high) in spans.items()}


def parse_runs(document: dict[str, Any]) -> list[Run]:
    runs = []
    for row in document["runs"]:
        attempts = [
            Attempt(a["ripple"], a["status"], seconds(a["started_at"]), seconds(a["finished_at"]))
            for a in row.get("ripples") or []
        ]
        runs.append(
            Run(
                line=row["id"],
                pond=row["pond"],
                seq=row["seq"],
                kind=row["kind"],
                status=row["status"],
                f=seconds(row["f"]),
                started=seconds(row["started_at"]),
                finished=seconds(row["finished_at"]),
                error=row["error"],
                attempts=attempts,
            )
        )
    return runs


def longest_ripple_path(durations: dict[str, float], edges: Iterable[Sequence[str]]) -> float:
    """The longest path through a Pond's Ripple graph, weighted by Ripple durations."""
    parents: dict[str, list[str]] = {name: [] for name in durations}
    for parent, child in edges:
        if child in parents and parent in durations:
            parents[child].append(parent)
    memo: dict[str, float] = {}

    def finish(name: str) -> float:
        if name not in memo:
            memo[name] = durations[name] + max((finish(p) for p in parents[name]), default=0.0)
        return memo[name]

    return max((finish(name) for name in durations), default=0.0)


def critical_path(
    runs: dict[str, Run],
    pond_sources: dict[str, list[str]],
    ripple_edges: dict[str, list[list[str]]],
) -> tuple[float, list[str]]:
    """The longest path of Ripple durations through the Pond graph, over one run per line.

    ``runs`` maps a line to its run; the path is the Ponds it goes through, Sources first."""
    memo: dict[str, tuple[float, list[str]]] = {}

    def best(line: str) -> tuple[float, list[str]]:
        if line not in memo:
            run = runs[line]
            own = longest_ripple_path(run.ripple_durations(), ripple_edges.get(line, []))
            upstream = [best(s) for s in pond_sources.get(line, []) if s in runs]
            before, path = max(upstream, default=(0.0, []), key=lambda item: item[0])
            memo[line] = (before + own, [*path, line])
        return memo[line]

    return max((best(line) for line in runs), default=(0.0, []), key=lambda item: item[0])


def start_to_first_ripple(runs: Iterable[Run]) -> list[float]:
    """Seconds from each run's start to its first Ripple attempt's start."""
    found = []
    for run in runs:
        first = run.first_ripple_start()
        if run.started is not None and first is not None:
            found.append(first - run.started)
    return found


@dataclass
class Gap:
    """How long a Sink run waited once it could start. ``ready`` and ``matching_f`` use the
    Catchment's run stamps; ``hop`` uses the Ducks' Ripple stamps, so it also holds the Source's
    export, its report reaching the Catchment and the command reaching the Sink's Duck."""

    sink: str
    seq: int
    #: Sink start minus the end of the Source run whose freshness it took.
    matching_f: float | None
    #: Sink start minus the latest of: its consumed Source runs ending, its own last run ending.
    ready: float
    #: Sink's first Ripple start minus the latest last-Ripple end of those same runs.
    hop: float | None


def source_to_sink_gaps(runs: list[Run], pond_sources: dict[str, list[str]]) -> list[Gap]:
    """For every run of a Pond with Sources: how long after it could start did it start."""
    by_line: dict[str, list[Run]] = {}
    for run in runs:
        if run.started is not None:
            by_line.setdefault(run.line, []).append(run)
    for line_runs in by_line.values():
        line_runs.sort(key=lambda r: r.seq)
    gaps = []
    for line, line_runs in by_line.items():
        sources = pond_sources.get(line, [])
        if not sources:
            continue
        for index, run in enumerate(line_runs):
            assert run.started is not None
            ready: list[float] = []
            matching: list[float] = []
            ripples_done: list[float | None] = []
            for source in sources:
                done = [
                    r
                    for r in by_line.get(source, [])
                    if r.status == "success"
                    and r.finished is not None
                    and r.finished <= run.started + 1e-3
                ]
                if not done:
                    continue
                latest = max(done, key=lambda r: r.finished or 0.0)
                assert latest.finished is not None
                ready.append(latest.finished)
                ripples_done.append(latest.last_ripple_finish())
                matching += [r.finished for r in done if r.f == run.f and r.finished is not None]
            if not ready:
                continue
            if index > 0 and line_runs[index - 1].finished is not None:
                previous = line_runs[index - 1].finished
                assert previous is not None
                if previous <= run.started + 1e-3:
                    ready.append(previous)
                    ripples_done.append(line_runs[index - 1].last_ripple_finish())
            first = run.first_ripple_start()
            hop = None
            ends = [t for t in ripples_done if t is not None]
            if first is not None and ends:
                hop = first - max(ends)
            gaps.append(
                Gap(
                    sink=line,
                    seq=run.seq,
                    matching_f=run.started - max(matching) if matching else None,
                    ready=run.started - max(ready),
                    hop=hop,
                )
            )
    return gaps


def cadence_gaps(finishes: Iterable[float]) -> list[float]:
    """Gaps between distinct successive completion times."""
    ordered = sorted(set(finishes))
    return [b - a for a, b in itertools.pairwise(ordered)]
