"""The driver: the engine host, the one place that changes the engine, persists it and acts on
its effects.

Everything runs on the server's event loop thread. An API command or a batch of worker events
becomes one call of :meth:`Driver.apply`: the engine changes, the effects become history rows,
the changed Ponds are saved — all in one SQLite transaction — and then begun runs are posted to
their Ducks' queues. The driver wakes on its own only at the engine's next deadline. Which Ducks
run for those queues is the fleet's business (:mod:`duckstring.catchment.fleet`), carried out by
its adapter (:attr:`Driver.fleet`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable
from typing import TypeVar

from duckstring.catchment.fleet import FleetRules
from duckstring.catchment.fleet_adapter import FleetAdapter
from duckstring.catchment.jobs import JobBoard
from duckstring.catchment.launcher import Launcher
from duckstring.catchment.status import StatusCache
from duckstring.catchment.store import Store
from duckstring.catchment.store.db import Deployment
from duckstring.catchment.timings import RunTimings
from duckstring.duck import protocol
from duckstring.duck.protocol import BeginRun, DuckEvent
from duckstring.engine.clock import NEVER, SECOND, Micros, SystemClock
from duckstring.engine.core import Engine, EngineError
from duckstring.engine.effects import (
    Effect,
    RunBegan,
    RunCompleted,
    RunFailed,
    RunKilled,
    StopWorker,
)
from duckstring.engine.rows import restore
from duckstring.pond.names import parse_line

log = logging.getLogger("duckstring.catchment")

T = TypeVar("T")


class Driver:
    """Owns the engine of one Catchment."""

    def __init__(
        self,
        store: Store,
        launcher: Launcher,
        board: JobBoard,
        clock: SystemClock | None = None,
        can_spawn: Callable[[], bool] = lambda: True,
        rules: FleetRules | None = None,
        timings: RunTimings | None = None,
    ) -> None:
        self.store = store
        self.board = board
        self.clock = clock or SystemClock()
        self.engine = Engine()
        #: The selected deployment of every line.
        self.lines: dict[str, Deployment] = {}
        #: ``GET /api/status``, rebuilt only where a Pond changed.
        self.status = StatusCache()
        #: How long runs and Ripple attempts take, observed as they are applied (``/metrics``).
        self.timings = timings or RunTimings()
        #: The Ducks: which run, and starting, keeping and stopping them. ``can_spawn`` is
        #: False until the Catchment knows the URL its Ducks dial back to.
        self.fleet = FleetAdapter(self, launcher, rules or FleetRules(), can_spawn)
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at: Micros | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._begun: list[RunBegan] = []
        self._stops: list[str] = []
        #: Runs that ended in the last transaction, (line, seq): a begin_run of theirs still
        #: queued for a Duck is taken back.
        self._ended: list[tuple[str, int]] = []
        #: Told the lines each committed change touched (all of them after a restore), so
        #: alerts can follow faults and freshness; it must only queue, never block.
        self.on_change: Callable[[Engine, Iterable[str]], None] | None = None

    # -- life ----------------------------------------------------------------------------------

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        """Rebuild the engine from the database, adopt the Ducks that outlived the previous
        Catchment, and re-dispatch runs that were in flight."""
        self._loop = loop
        for deployment in self.store.active_deployments():
            self.lines[deployment.line] = deployment
        now = self.clock.now()
        with self.store.transaction():
            self.engine = restore(self.store.load_engine_rows(), now)
            self._record(self.engine.drain(), now)
            self.store.save_ponds(self.engine, self.engine.take_changed())
        self._changed(self.engine.ponds)
        self.fleet.start(loop)
        in_flight = self.engine.in_flight_runs()
        self.timings.seed(
            self.store.failed_run_counts(),
            [(line, run.seq, run.started_at) for line, run in in_flight],
        )
        for line, run in in_flight:
            if line not in self.lines:
                continue
            self._begun.append(
                RunBegan(
                    line,
                    run.seq,
                    run.f,
                    0,
                    run.kind,
                    run.started_at,
                    self.engine.pond(line).immediate_retries,
                )
            )
        self._flush()

    def stop(self) -> None:
        """Stop acting: no Duck starts, no timer fires. The Ducks themselves are the
        launcher's to stop (``stop_all``, leaving :meth:`FleetAdapter.at_work`)."""
        self.fleet.stop()
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    # -- the one way in --------------------------------------------------------------------------

    def apply(self, operation: Callable[[Engine, Micros], T]) -> T:
        """Run ``operation(engine, now)`` and everything it causes, atomically."""
        now = self.clock.now()
        try:
            with self.store.transaction():
                result = operation(self.engine, now)
                self._record(self.engine.drain(), now)
                changed = self.engine.take_changed()
                self.store.save_ponds(self.engine, changed)
        except EngineError:
            self.timings.discard()
            raise  # refused before it changed anything (the engine's contract)
        except BaseException:
            # The database rolled back; the engine in memory must too, or they would disagree.
            self._rebuild()
            raise
        self._flush()
        self._changed(changed)
        return result

    def _changed(self, lines: Iterable[str]) -> None:
        if self.on_change is not None:
            self.on_change(self.engine, lines)

    def _rebuild(self) -> None:
        self.timings.discard()
        self._begun.clear()
        self._stops.clear()
        self._ended.clear()
        now = self.clock.now()
        with self.store.transaction():
            self.engine = restore(self.store.load_engine_rows(), now)
            self._record(self.engine.drain(), now)
            self.store.save_ponds(self.engine, self.engine.take_changed())
        self._changed(self.engine.ponds)

    def _record(self, effects: list[Effect], now: Micros) -> None:
        store = self.store
        for effect in effects:
            if isinstance(effect, RunBegan):
                name, major = parse_line(effect.pond)
                deployment = self.lines.get(effect.pond)
                store.run_began(
                    effect.pond,
                    name,
                    major,
                    effect.seq,
                    effect.f,
                    None if deployment is None else deployment.version,
                    effect.kind,
                    effect.at,
                    None if effect.cause is None else effect.cause.to_row(),
                )
                self._begun.append(effect)
                self.timings.run_began(effect.pond, effect.seq, effect.at)
            elif isinstance(effect, RunCompleted):
                store.run_finished(effect.pond, effect.seq, "success", effect.at)
                self.timings.run_ended(effect.pond, effect.seq, effect.at, "success")
            elif isinstance(effect, RunFailed):
                store.run_finished(
                    effect.pond, effect.seq, "failed", effect.at, effect.error, effect.traceback
                )
                self._ended.append((effect.pond, effect.seq))
                self.timings.run_ended(effect.pond, effect.seq, effect.at, "failed")
            elif isinstance(effect, RunKilled):
                store.run_finished(effect.pond, effect.seq, "killed", effect.at, "killed")
                store.fail_running_attempts(effect.pond, now, "killed")
                self._ended.append((effect.pond, effect.seq))
                self.timings.run_ended(effect.pond, effect.seq, effect.at, "killed")
            elif isinstance(effect, StopWorker):
                self._stops.append(effect.pond)

    def _flush(self) -> None:
        """Act on what the last transaction decided: kill, dispatch, review the fleet, re-arm."""
        self.timings.commit()
        stops, self._stops = self._stops, []
        for line in stops:
            self.board.clear(line)
            self.fleet.kill(line)
        # A run that failed before its Duck took it (the Duck died first) must not be begun by
        # the next Duck.
        ended, self._ended = self._ended, []
        for line, seq in ended:
            self.board.withdraw_run(line, seq)
        begun, self._begun = self._begun, []
        for run in begun:
            self._dispatch(run)
        self.fleet.review()
        self._arm_timer()

    def _dispatch(self, run: RunBegan) -> None:
        deployment = self.lines.get(run.pond)
        if deployment is None:
            return
        withdrawn = self.board.withdraw_shutdown(run.pond)
        self.board.post(
            run.pond,
            BeginRun(
                seq=run.seq,
                f=run.f,
                version=deployment.version,
                kind=run.kind,
                immediate_retries=run.immediate_retries,
            ),
        )
        self.fleet.run_posted(run.pond, shutdown_withdrawn=withdrawn)

    def fail_line(self, line: str, message: str) -> None:
        """The line's Duck failed (it died, went silent, did not start): its newest run
        fails with ``message``, and what it was running with it."""
        self.apply(lambda engine, now: self._fail_line(engine, line, message, now))

    def _fail_line(self, engine: Engine, line: str, message: str, now: Micros) -> None:
        self.store.fail_running_attempts(line, now, message)
        engine.worker_failed(line, now, message)

    # -- time ------------------------------------------------------------------------------------

    def _arm_timer(self) -> None:
        deadline = self.engine.next_deadline()
        if deadline == self._timer_at:
            return
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._timer_at = deadline
        if deadline is None or self._loop is None:
            return
        delay = max(0.0, (deadline - self.clock.now()) / SECOND)
        self._timer = self._loop.call_later(delay, self._on_deadline)

    def _on_deadline(self) -> None:
        self._timer = None
        self._timer_at = None
        if self.clock.now() < (self.engine.next_deadline() or NEVER):
            self._arm_timer()  # the loop's clock ran a little early
            return
        self.apply(lambda engine, now: engine.advance(now))

    # -- worker events -------------------------------------------------------------------------

    def duck_polled(self, line: str) -> None:
        self.fleet.polled(line)

    def duck_events(self, line: str, events: list[DuckEvent]) -> None:
        """Apply a batch of a Duck's events; replays change nothing."""
        self.fleet.heard(line)

        def apply_all(engine: Engine, now: Micros) -> None:
            for event in events:
                if event.type == protocol.HEARTBEAT:
                    continue
                if not self.store.first_event(line, event.id):
                    continue
                self._apply_event(engine, line, event, now)

        if line not in self.engine.ponds:
            return
        self.apply(apply_all)

    def _apply_event(self, engine: Engine, line: str, event: DuckEvent, now: Micros) -> None:
        store = self.store
        seq = event.seq if event.seq is not None else 0
        ripple = event.ripple or ""
        attempt = event.attempt or 0
        if event.type == protocol.RIPPLE_STARTED and event.f is not None:
            store.attempt_started(line, seq, ripple, attempt, event.f, event.at)
            self.timings.attempt_started(line, seq, ripple, attempt, event.at)
            engine.ripple_started(line, ripple, event.f, now)
        elif event.type == protocol.RIPPLE_SUCCEEDED:
            store.attempt_finished(line, seq, ripple, attempt, "success", event.at)
            self.timings.attempt_ended(line, seq, ripple, attempt, event.at, "success")
            engine.ripple_succeeded(line, ripple, now)
        elif event.type == protocol.RIPPLE_FAILED:
            store.attempt_finished(
                line, seq, ripple, attempt, "failed", event.at, event.error, event.traceback
            )
            self.timings.attempt_ended(
                line, seq, ripple, attempt, event.at, "failed", retrying=event.retrying
            )
            engine.ripple_failed(line, ripple, now, retrying=event.retrying)
        elif event.type == protocol.RUN_COMPLETED and event.f is not None:
            engine.run_completed(line, event.f, now, seq=event.seq)
        elif event.type == protocol.RUN_FAILED and event.f is not None:
            engine.run_failed(line, event.f, now, event.error or "run failed", event.traceback)
        elif event.type == protocol.WORKER_ERROR:  # an internal error, or it stalled
            self._fail_line(engine, line, event.error or "the Duck reported an internal error", now)
