"""Forecasts for ``forecast-breach`` alerts: which lines to forecast, when, and where.

Only while a ``forecast-breach`` rule exists. The lines it can be about are those it watches
that have something to hold them to: a rule's own bound and demand on the line (a standing
trigger or a push target), or the line's Tide. After a change to such a line or to any line
upstream of it, the line is due; due lines are forecast together at most once per ``every``
seconds. The copy of their rows and their measured durations is taken on the event loop (the
engine and the store belong to it); the simulations run on one worker thread of their own,
and their :class:`~duckstring.catchment.alerts.book.Prediction` go to the evaluator. A line
that stops being one to forecast gets an empty prediction, which re-arms what it fired.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from duckstring.catchment.alerts.book import Prediction
from duckstring.catchment.alerts.rules import FORECAST_BREACH, AlertRule
from duckstring.catchment.store.db import Store
from duckstring.engine.clock import Micros, SystemClock
from duckstring.engine.core import Engine
from duckstring.engine.forecast import Forecast, forecast
from duckstring.engine.pond import PondNode
from duckstring.engine.rows import TABLES, Rows, pond_rows

log = logging.getLogger("duckstring.catchment")

#: Lines forecast in one round at most; the rest stay due for the next round.
ROUND_LINES = 20
#: A round that took ``t`` seconds of CPU waits ``SPACING * t`` before the next one: on a big
#: graph, where one forecast costs a fraction of a second, forecasting takes at most about a
#: fifth of a core, and the event loop keeps the rest of the interpreter.
SPACING = 5.0


@dataclass(frozen=True, slots=True)
class _Job:
    line: str
    rows: Rows
    durations: dict[str, dict[str, float]]
    since: dict[tuple[str, str], int]


def wants_forecast(p: PondNode, rules: Iterable[AlertRule]) -> bool:
    """Whether a forecast-breach rule can say something of ``p``."""
    tide = p.trigger is not None and p.trigger.kind == "tide"
    demand = p.trigger is not None or bool(p.targets)
    return any(
        rule.on == FORECAST_BREACH
        and rule.watches(p.id)
        and (tide if rule.bound is None else demand)
        for rule in rules
    )


def prediction_of(result: Forecast) -> Prediction:
    neck = result.bottleneck
    return Prediction(
        result.line,
        result.at,
        result.next_fresh,
        result.bound if result.trigger == "tide" else None,
        result.holds,
        result.cadence,
        None if neck is None else f"{neck.line} {neck.ripple} ({neck.seconds:.1f} s)",
        result.reason,
    )


def rows_around(engine: Engine, line: str) -> Rows:
    """The rows of ``line``'s component (the lines linked to it through Sources and Sinks,
    either way: what a forecast of it simulates), without copying every other line."""
    keep = {line}
    frontier = [line]
    while frontier:
        p = engine.ponds[frontier.pop()]
        linked = [edge.source for edge in p.sources] + [s.id for s in engine.sinks(p.id)]
        for other in linked:
            if other in engine.ponds and other not in keep:
                keep.add(other)
                frontier.append(other)
    rows: Rows = {table: [] for table in TABLES}
    for other in keep:
        for table, table_rows in pond_rows(engine.ponds[other]).items():
            rows[table].extend(table_rows)
    return rows


class Forecaster:
    """Lives on the event loop; ``deliver`` is called from its worker thread."""

    def __init__(
        self,
        store: Store,
        clock: SystemClock,
        deliver: Callable[[list[Prediction]], None],
        every: float = 1.0,
    ) -> None:
        self.store = store
        self.clock = clock
        self.deliver = deliver
        self.every = every
        self.rules: list[AlertRule] = []
        self._engine: Engine | None = None
        self._due: dict[str, None] = {}
        #: The lines that have a prediction the book holds (to withdraw when they stop).
        self._predicted: set[str] = set()
        self._timer: asyncio.TimerHandle | None = None
        self._busy = False
        self._last = 0.0
        #: CPU seconds the last round took (written by the worker thread).
        self._spent = 0.0
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="duckstring-alert-forecast")
        self._closed = threading.Event()

    def set_rules(self, rules: Iterable[AlertRule], engine: Engine | None = None) -> None:
        """The rules changed: every line may be due."""
        self.rules = [rule for rule in rules if rule.on == FORECAST_BREACH]
        engine = engine or self._engine
        if engine is not None:
            self.changed(engine, list(engine.ponds))

    def changed(self, engine: Engine, lines: Iterable[str]) -> None:
        """Lines changed (the driver's hook): the lines to forecast downstream of them are due."""
        self._engine = engine
        if not self.rules and not self._predicted:
            return
        moved = set(lines)
        if not moved:
            return
        for p in engine.ponds.values():
            if p.id in self._due:
                continue
            if not (p.id in self._predicted or wants_forecast(p, self.rules)):
                continue
            if p.id in moved or not moved.isdisjoint(engine.ancestors(p.id)):
                self._due[p.id] = None
        for line in moved:
            if line not in engine.ponds and line in self._predicted:
                self._due[line] = None  # removed: its prediction is withdrawn
        self._schedule()

    def close(self) -> None:
        self._closed.set()
        if self._timer is not None:
            self._timer.cancel()
        self._pool.shutdown(wait=False, cancel_futures=True)

    # -- on the event loop -----------------------------------------------------------------

    def _schedule(self) -> None:
        if not self._due or self._busy or self._timer is not None or self._closed.is_set():
            return
        loop = asyncio.get_running_loop()
        wait = max(0.0, self._last + max(self.every, SPACING * self._spent) - loop.time())
        self._timer = loop.call_later(wait, self._round)

    def _round(self) -> None:
        self._timer = None
        engine = self._engine
        if engine is None or self._closed.is_set():
            return
        loop = asyncio.get_running_loop()
        self._last = loop.time()
        jobs: list[_Job] = []
        withdrawn: list[Prediction] = []
        now = self.clock.now()
        for line in list(self._due)[:ROUND_LINES]:
            del self._due[line]
            p = engine.ponds.get(line)
            if p is None or not wants_forecast(p, self.rules):
                if line in self._predicted:
                    self._predicted.discard(line)
                    withdrawn.append(Prediction(line, now, None, None, None, None, None, None))
                continue
            rows = rows_around(engine, line)
            lines = [row["id"] for row in rows["ponds"]]
            jobs.append(
                _Job(
                    line,
                    rows,
                    self.store.ripple_durations(lines),
                    self.store.running_since(lines),
                )
            )
            self._predicted.add(line)
        if withdrawn:
            self.deliver(withdrawn)
        if not jobs:
            self._schedule()
            return
        self._busy = True
        future = self._pool.submit(self._simulate, jobs, now)
        future.add_done_callback(lambda _: loop.call_soon_threadsafe(self._finished))

    def _finished(self) -> None:
        self._busy = False
        self._schedule()

    # -- on the worker thread --------------------------------------------------------------

    def _simulate(self, jobs: list[_Job], now: Micros) -> None:
        began = time.thread_time()
        try:
            self._forecast_all(jobs, now)
        finally:
            self._spent = time.thread_time() - began

    def _forecast_all(self, jobs: list[_Job], now: Micros) -> None:
        predictions = []
        for job in jobs:
            if self._closed.is_set():
                return
            try:
                result = forecast(job.rows, job.line, now, job.durations, running_since=job.since)
            except Exception:  # a forecast that cannot be made must not stop the others
                log.exception("the forecast of %s for alerts failed", job.line)
                continue
            predictions.append(prediction_of(result))
        if predictions:
            self.deliver(predictions)
