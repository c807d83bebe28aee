"""The driver: the one place that changes the engine, persists it and acts on its effects.

Everything runs on the server's event loop thread. An API command or a batch of worker events
becomes one call of :meth:`Driver.apply`: the engine changes, the effects become history rows,
the changed Ponds are saved — all in one SQLite transaction — and then begun runs are posted to
their Ducks' queues. The driver wakes on its own only at the engine's next deadline.

Ducks start on a worker thread (a fork must not stall the loop), and they start *ahead* of
their runs: when a trigger puts demand on a lineage, the Ducks of the lines that will run soon
are started at once (up to ``prestart`` of them waiting at a time, nearest the Inlets first),
so a Sink's Duck is polling by the time its Sources finish.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

from duckstring.catchment.jobs import JobBoard
from duckstring.catchment.launcher import (
    IDLE_DUCK_BYTES,
    DuckProcess,
    Launcher,
    LauncherClosed,
)
from duckstring.catchment.processes import line_lock_holder, read_memories
from duckstring.catchment.status import StatusCache
from duckstring.catchment.store import Store
from duckstring.catchment.store.db import Deployment
from duckstring.duck import protocol
from duckstring.duck.protocol import BeginRun, DuckEvent, Shutdown
from duckstring.duck.worker import EXIT_LOCKED
from duckstring.engine import windows as window_rules
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
from duckstring.layout import RootLayout

log = logging.getLogger("duckstring.catchment")

T = TypeVar("T")


def split_line(line: str) -> tuple[str, int]:
    name, _, major = line.rpartition("@")
    return name, int(major)


class Driver:
    """Owns the engine of one Catchment."""

    def __init__(
        self,
        store: Store,
        launcher: Launcher,
        board: JobBoard,
        clock: SystemClock | None = None,
        can_spawn: Callable[[], bool] = lambda: True,
        layout: RootLayout | None = None,
        silence: float = 60.0,
        prestart: int = 16,
        linger: float = 60.0,
        linger_max: int = 16,
        linger_bytes: int | None = None,
    ) -> None:
        self.store = store
        self.layout = layout
        #: Seconds a Duck with a run in flight may stay silent before its run fails.
        self.silence = silence
        self._watchdog: asyncio.TimerHandle | None = None
        #: False until the Catchment knows the URL its Ducks dial back to.
        self.can_spawn = can_spawn
        self._deferred: set[str] = set()
        self.launcher = launcher
        self.board = board
        self.clock = clock or SystemClock()
        self.engine = Engine()
        #: The selected deployment of every line.
        self.lines: dict[str, Deployment] = {}
        #: ``GET /api/status``, rebuilt only where a Pond changed.
        self.status = StatusCache()
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at: Micros | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._begun: list[RunBegan] = []
        self._stops: list[str] = []
        #: Runs that ended in the last transaction, (line, seq): a begin_run of theirs still
        #: queued for a Duck is taken back.
        self._ended: list[tuple[str, int]] = []
        #: When each line's Duck last spoke (monotonic seconds), for silence detection.
        self.last_seen: dict[str, float] = {}
        #: How many Ducks may wait, started ahead of their line's first run, at once.
        self.prestart = prestart
        #: Lines whose Duck was started ahead and has not been given a run yet.
        self._ahead: set[str] = set()
        #: Lines whose Duck is being forked on the spawner thread.
        self._starting: set[str] = set()
        #: Lines whose new Duck has not polled yet: it is still loading (CPU-bound, ~0.1 s).
        self._warming: set[str] = set()
        #: Ducks started ahead load this many at a time, leaving a core to the Ducks with runs.
        self.warm_limit = max(1, (os.cpu_count() or 1) - 1)
        self._spawner = ThreadPoolExecutor(max_workers=1, thread_name_prefix="duck-spawn")
        #: A replenishing of the spare Ducks is queued on the spawner thread.
        self._replenishing = False
        #: Seconds an idle Duck stays warm for its line's next run, and how many may.
        self.linger = linger
        self.linger_max = linger_max
        #: How much memory the idle Ducks may hold together (None: no limit but the count).
        self.linger_bytes = linger_bytes
        #: When each idle Duck became idle (loop time), and its memory then.
        self._idle_since: dict[str, float] = {}
        self._idle_bytes: dict[str, int] = {}
        #: Idle Ducks' memory is being read on the spawner thread.
        self._measuring = False
        self._linger_timer: asyncio.TimerHandle | None = None
        #: Set by :meth:`stop`: nothing more is applied.
        self._stopped = False

    # -- life ----------------------------------------------------------------------------------

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        """Rebuild the engine from the database and re-dispatch runs that were in flight."""
        self._loop = loop
        for deployment in self.store.active_deployments():
            self.lines[deployment.line] = deployment
        now = self.clock.now()
        with self.store.transaction():
            self.engine = restore(self.store.load_engine_rows(), now)
            self._record(self.engine.drain(), now)
            self.store.save_ponds(self.engine, self.engine.take_changed())
        self._adopt_survivors()
        for line, run in self.engine.in_flight_runs():
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
        self._replenish()

    def _adopt_survivors(self) -> None:
        """Ducks that outlived the previous Catchment process keep their lines: this one
        adopts them (they dial back in) and never starts a second Duck beside one."""
        if self.layout is None:
            return
        for line, deployment in self.lines.items():
            pid = line_lock_holder(self.layout.duck_lock(deployment.name, deployment.major))
            if pid is not None:
                self._adopt(line, pid)

    def _adopt(self, line: str, pid: int) -> bool:
        duck = self.launcher.adopt(line, pid)
        if duck is None:
            return False
        log.info("adopted the Duck of %s (pid %s)", line, pid)
        if self._loop is not None:
            self.last_seen[line] = self._loop.time()
            self._loop.add_reader(duck.sentinel, self._on_exit, duck)
        return True

    def stop(self) -> None:
        # A fork in progress finishes and registers its Duck, so stop_all stops it too.
        self._spawner.shutdown(wait=True, cancel_futures=True)
        # The Ducks are about to be stopped, and the store closed: their exits are no news.
        self._stopped = True
        if self._loop is not None:
            for duck in list(self.launcher.ducks.values()):
                if not duck.exited:
                    self._loop.remove_reader(duck.sentinel)
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._watchdog is not None:
            self._watchdog.cancel()
            self._watchdog = None
        if self._linger_timer is not None:
            self._linger_timer.cancel()
            self._linger_timer = None

    def lines_at_work(self) -> set[str]:
        """The lines whose Duck holds work in flight: a run begun and not yet reported
        complete or failed, or a run's command still queued for it. A graceful stop leaves
        these Ducks running (they report to the next Catchment on the root)."""
        lines = {line for line, _ in self.engine.in_flight_runs()}
        lines.update(line for line in self.launcher.ducks if self._has_run_queued(line))
        return lines

    # -- the one way in --------------------------------------------------------------------------

    def apply(self, operation: Callable[[Engine, Micros], T]) -> T:
        """Run ``operation(engine, now)`` and everything it causes, atomically."""
        now = self.clock.now()
        try:
            with self.store.transaction():
                result = operation(self.engine, now)
                self._record(self.engine.drain(), now)
                self.store.save_ponds(self.engine, self.engine.take_changed())
        except EngineError:
            raise  # refused before it changed anything (the engine's contract)
        except BaseException:
            # The database rolled back; the engine in memory must too, or they would disagree.
            self._rebuild()
            raise
        self._flush()
        return result

    def _rebuild(self) -> None:
        self._begun.clear()
        self._stops.clear()
        self._ended.clear()
        now = self.clock.now()
        with self.store.transaction():
            self.engine = restore(self.store.load_engine_rows(), now)
            self._record(self.engine.drain(), now)
            self.store.save_ponds(self.engine, self.engine.take_changed())

    def _record(self, effects: list[Effect], now: Micros) -> None:
        store = self.store
        for effect in effects:
            if isinstance(effect, RunBegan):
                name, major = split_line(effect.pond)
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
                )
                self._begun.append(effect)
            elif isinstance(effect, RunCompleted):
                store.run_finished(effect.pond, effect.seq, "success", effect.at)
            elif isinstance(effect, RunFailed):
                store.run_finished(
                    effect.pond, effect.seq, "failed", effect.at, effect.error, effect.traceback
                )
                self._ended.append((effect.pond, effect.seq))
            elif isinstance(effect, RunKilled):
                store.run_finished(effect.pond, effect.seq, "killed", effect.at, "killed")
                store.fail_running_attempts(effect.pond, now, "killed")
                self._ended.append((effect.pond, effect.seq))
            elif isinstance(effect, StopWorker):
                self._stops.append(effect.pond)

    def _flush(self) -> None:
        """Act on what the last transaction decided: kill, dispatch, stop idle Ducks, re-arm."""
        stops, self._stops = self._stops, []
        for line in stops:
            self.board.clear(line)
            self.launcher.kill(line)
        # A run that failed before its Duck took it (the Duck died first) must not be begun by
        # the next Duck.
        ended, self._ended = self._ended, []
        for line, seq in ended:
            self.board.withdraw_run(line, seq)
        begun, self._begun = self._begun, []
        for run in begun:
            self._dispatch(run)
        self._stop_idle()
        self._prestart()
        self._arm_timer()
        self._arm_watchdog()

    # -- silence -------------------------------------------------------------------------------

    def _arm_watchdog(self) -> None:
        """While any run is in flight, check now and then that its Duck still speaks."""
        if self._loop is None or self._watchdog is not None:
            return
        if any(p.runs for p in self.engine.ponds.values()):
            self._watchdog = self._loop.call_later(self.silence / 4, self._check_silence)

    def _check_silence(self) -> None:
        self._watchdog = None
        assert self._loop is not None
        now = self._loop.time()
        for line, p in list(self.engine.ponds.items()):
            if not any(run.status == "running" for run in p.runs.values()):
                continue
            heard = self.last_seen.get(line)
            if heard is None:
                self.last_seen[line] = now
                continue
            if now - heard >= self.silence and line not in self._deferred:
                message = f"the Duck of {line} was silent for {self.silence:g} s mid-run"
                duck = self.launcher.ducks.get(line)
                if duck is not None:
                    duck.killed = True
                    self.launcher.kill(line)

                def fail(engine: Engine, at: Micros, line: str = line, text: str = message) -> None:
                    self.store.fail_running_attempts(line, at, text)
                    engine.worker_failed(line, at, text)

                self.apply(fail)
                self.last_seen[line] = now
        self._arm_watchdog()

    def _dispatch(self, run: RunBegan) -> None:
        deployment = self.lines.get(run.pond)
        if deployment is None:
            return
        self.board.withdraw_shutdown(run.pond)
        self._ahead.discard(run.pond)
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
        self.ensure_duck(run.pond)

    def ensure_duck(self, line: str) -> None:
        """See that ``line`` has a Duck: a live one, one being forked, or a new one."""
        if line in self._starting:
            return
        duck = self.launcher.ducks.get(line)
        if duck is not None and duck.is_alive():
            return  # a stopping Duck is followed by a new one once it exits (duck_exited)
        if not self.can_spawn():
            self._deferred.add(line)
            return
        name, major = split_line(line)
        deployment = self.lines.get(line)
        version = None if deployment is None else deployment.version
        # The runs it is started for travel with it: it begins them without a poll's round
        # trip. They stay queued until its first poll, which names them to drop them.
        waiting = tuple(c for c in self.board.pending(line) if isinstance(c, BeginRun))
        try:
            spare = self.launcher.bind(line, name, major, version, waiting)
        except LauncherClosed:
            return
        if spare is not None:
            self._started(line, spare)  # a new spare is forked once no run is in flight
            return
        if self._loop is None:
            self._started(line, self.launcher.spawn(line, name, major, version, waiting))
            return
        self._starting.add(line)
        if not self._on_spawner(
            lambda: self.launcher.spawn(line, name, major, version, waiting),
            lambda done: self._spawn_finished(line, done),
        ):
            self._starting.discard(line)

    def _on_spawner(self, work: Callable[[], T], then: Callable[[Future[T]], None]) -> bool:
        """Run ``work`` on the spawner thread (a fork, or reading /proc, never stalls the
        event loop), then ``then`` with its future on the loop. False when the spawner was
        shut down: the Catchment is stopping (and ``stop_all`` reaps whatever registered)."""
        assert self._loop is not None
        loop = self._loop
        try:
            future = self._spawner.submit(work)
        except RuntimeError:
            return False

        def finished(done: Future[T]) -> None:
            with contextlib.suppress(RuntimeError):  # the loop has closed
                loop.call_soon_threadsafe(then, done)

        future.add_done_callback(finished)
        return True

    def _replenish(self) -> None:
        """Fork spare Ducks on the spawner thread. Called when no run is in flight and no Duck
        is starting: a spare serves the first run after a quiet spell, when a fork would be
        the run's whole wait; in a burst of new Ducks, forking and rehearsing spares would
        only take CPU from the Ducks at work."""
        if self._replenishing or self._loop is None:
            return
        if self.launcher.spares <= len(self.launcher.spare_pids()):
            return
        # A line's Duck queued behind it on the spawner thread goes first.
        self._replenishing = self._on_spawner(
            lambda: self.launcher.replenish(lambda: bool(self._starting)), self._replenished
        )

    def _replenished(self, done: Future[int]) -> None:
        self._replenishing = False
        if done.cancelled():
            return
        error = done.exception()
        if error is not None and not isinstance(error, LauncherClosed):
            log.error("could not fork a spare Duck: %s", error)

    def _spawn_finished(self, line: str, done: Future[DuckProcess]) -> None:
        self._starting.discard(line)
        if done.cancelled():
            self._ahead.discard(line)
            return
        error = done.exception()
        if error is None:
            self._started(line, done.result())
            self._stop_idle()  # its work may have gone while it was forking
            return
        self._ahead.discard(line)
        if isinstance(error, LauncherClosed):
            return
        log.error("could not start the Duck of %s: %s", line, error)
        p = self.engine.ponds.get(line)
        if p is not None and p.runs:
            message = f"could not start the Duck of {line}: {error}"

            def fail(engine: Engine, now: Micros) -> None:
                self.store.fail_running_attempts(line, now, message)
                engine.worker_failed(line, now, message)

            self.apply(fail)

    def _started(self, line: str, duck: DuckProcess) -> None:
        self._warming.add(line)
        if self._loop is not None:
            self.last_seen[line] = self._loop.time()
            self._loop.add_reader(duck.sentinel, self._on_exit, duck)

    def _prestart(self) -> None:
        """Start the Ducks of lines that will run soon, before their runs begin."""
        loading = len(self._starting) + len(self._warming)
        room = min(self.prestart - len(self._ahead), self.warm_limit - loading)
        if room <= 0 or not self.can_spawn():
            return
        ponds = self.engine.ponds
        candidates = [
            line
            for line, p in ponds.items()
            if p.has_demand
            and not p.runs
            and line in self.lines
            and line not in self._starting
            and line not in self.launcher.ducks
        ]
        if not candidates:
            return
        now = self.clock.now()
        waiting: dict[str, bool] = {}
        depth: dict[str, int] = {}

        def stuck(line: str) -> bool:
            """Nothing can reach ``line`` soon: a fault on the way, or a closed window."""
            if line in waiting:
                return waiting[line]
            waiting[line] = True  # a cycle cannot be deployed; this only guards recursion
            p = ponds[line]
            result = p.is_failed or p.is_killed or p.blocked
            if not result and not p.sources and p.windows:
                result = window_rules.open_window(p.windows, now) is None
            if not result:
                result = any(
                    stuck(edge.source)
                    for edge in p.sources
                    if not edge.optional and edge.source in ponds and ponds[edge.source].has_demand
                )
            waiting[line] = result
            return result

        def level(line: str) -> int:
            if line not in depth:
                depth[line] = 0
                sources = [e.source for e in ponds[line].sources if e.source in ponds]
                depth[line] = 1 + max((level(s) for s in sources), default=-1)
            return depth[line]

        chosen = sorted((c for c in candidates if not stuck(c)), key=lambda c: (level(c), c))
        for line in chosen[:room]:
            self._ahead.add(line)
            self.ensure_duck(line)

    def spawn_deferred(self) -> None:
        """The dial-back URL is known now: start the Ducks that waited for it."""
        deferred, self._deferred = self._deferred, set()
        for line in sorted(deferred):
            self.ensure_duck(line)

    def _on_exit(self, duck: DuckProcess) -> None:
        """This Duck process ended (its sentinel became readable)."""
        duck.exited = True
        if self._loop is not None:
            self._loop.remove_reader(duck.sentinel)
        if self._stopped:
            return  # the Catchment is stopping: stop_all reaps it
        adopted = duck.process is None
        if self.launcher.ducks.get(duck.line) in (duck, None):
            self._ahead.discard(duck.line)
            self._warming.discard(duck.line)
            self._not_idle(duck.line)
        code = self.launcher.reap(duck)
        current = self.launcher.ducks.get(duck.line)
        replaced = current is not None and current is not duck and current.is_alive()
        if replaced and (duck.stopping or duck.killed):
            return  # a newer Duck already works the line; this one stopped as asked
        self.duck_exited(duck.line, code, expected=duck.stopping or duck.killed, adopted=adopted)

    def duck_exited(
        self, line: str, code: int | None, *, expected: bool, adopted: bool = False
    ) -> None:
        """A Duck process ended. Work it left unfinished fails; queued work gets a new Duck."""
        if code == EXIT_LOCKED and self.layout is not None and line in self.lines:
            # Another Duck holds the line (one that outlived a restart): adopt it.
            deployment = self.lines[line]
            pid = line_lock_holder(self.layout.duck_lock(deployment.name, deployment.major))
            if pid is not None and self._adopt(line, pid):
                return
        p = self.engine.ponds.get(line)
        if p is not None and not expected and p.runs:
            if adopted:
                message = f"the Duck of {line} (adopted after a restart) exited"
            elif code is not None and code < 0:
                message = f"the Duck of {line} was killed by signal {-code}"
            else:
                message = f"the Duck of {line} exited with code {code}"

            def fail(engine: Engine, now: Micros) -> None:
                self.store.fail_running_attempts(line, now, message)
                engine.worker_failed(line, now, message)

            self.apply(fail)
        if self._has_run_queued(line):
            self.ensure_duck(line)

    def _stop_idle(self) -> None:
        """Stop the Ducks of lines with nothing to do, once they have idled for ``linger``
        seconds (the longest-idle go at once when more are idle than ``linger_max`` allows or
        than ``linger_bytes`` holds: see :meth:`_lingering`). A standing
        trigger keeps its line's Duck warm, and the Ducks of every line upstream of it: they
        are pulled again soon."""
        warm: set[str] | None = None
        now = self._loop.time() if self._loop is not None else 0.0
        idle: list[tuple[float, str]] = []
        quiet = not self._starting and not self._warming
        for line, duck in list(self.launcher.ducks.items()):
            if duck.stopping or duck.exited:
                continue
            p = self.engine.ponds.get(line)
            if p is None:
                continue
            quiet = quiet and not p.runs
            if p.runs or p.trigger is not None or p.has_demand or self._has_run_queued(line):
                self._not_idle(line)
                continue
            if warm is None:
                warm = self._under_standing_triggers()
            if line in warm:
                self._not_idle(line)
                continue
            idle.append((self._idle_since.setdefault(line, now), line))
        idle.sort()
        kept = self._lingering(idle, measure=quiet)
        next_stop: float | None = None
        for since, line in idle:
            if line in kept and now - since < self.linger:
                next_stop = since + self.linger if next_stop is None else next_stop
                continue
            duck = self.launcher.ducks[line]
            duck.stopping = True
            self._ahead.discard(line)
            self._not_idle(line)
            self.board.post(line, Shutdown(reason="idle"))
        self._arm_linger(next_stop)
        if quiet:
            self._replenish()

    def _lingering(self, idle: list[tuple[float, str]], *, measure: bool) -> set[str]:
        """The idle Ducks that may stay (``idle`` is oldest first): the most recently idle,
        as many as ``linger_max`` allows and their memory fits ``linger_bytes``.

        Each Duck's memory is measured once while it idles (what DuckDB keeps cached depends
        on the data), only when the idle Ducks might not fit, and only when ``measure`` (no
        run in flight): a reading costs ~2 ms, taken off the event loop, and the readings stop
        as soon as a Duck waits to be forked. Until then a Duck not yet measured counts
        against ``linger_max`` only, so a burst of runs is not slowed."""
        budget = self.linger_bytes
        if measure and budget is not None and len(idle) * IDLE_DUCK_BYTES * 2 > budget:
            self._measure([line for _, line in idle if line not in self._idle_bytes])
        kept: set[str] = set()
        held = 0
        for _, line in reversed(idle):
            size = self._idle_bytes.get(line, 0)
            if len(kept) >= self.linger_max:
                break
            if budget is not None and held + size > budget:
                break
            kept.add(line)
            held += size
        return kept

    def _measure(self, lines: list[str]) -> None:
        """Read the memory of these idle Ducks on the spawner thread, giving way to a Duck
        that waits there to be forked (the rest are read once it is quiet again), then decide
        again which may linger."""
        pids = {line: duck.pid for line in lines if (duck := self.launcher.ducks.get(line))}
        if self._measuring or not pids or self._loop is None:
            return
        self._measuring = self._on_spawner(
            lambda: read_memories(pids, lambda: bool(self._starting)), self._measured
        )

    def _measured(self, done: Future[dict[str, int | None]]) -> None:
        self._measuring = False
        if done.cancelled() or done.exception() is not None:
            return
        for line, size in done.result().items():
            if line in self._idle_since:  # still idle: the reading describes it
                self._idle_bytes[line] = size or IDLE_DUCK_BYTES
        self._stop_idle()

    def _not_idle(self, line: str) -> None:
        self._idle_since.pop(line, None)
        self._idle_bytes.pop(line, None)

    def _has_run_queued(self, line: str) -> bool:
        return any(isinstance(c, BeginRun) for c in self.board.pending(line))

    def _arm_linger(self, at: float | None) -> None:
        """Wake when the first lingering Duck has idled long enough (not on the dispatch path:
        this only stops Ducks)."""
        if self._linger_timer is not None and (at is None or at < self._linger_timer.when()):
            self._linger_timer.cancel()
            self._linger_timer = None
        if at is None or self._loop is None or self._linger_timer is not None:
            return
        self._linger_timer = self._loop.call_at(at, self._on_linger)

    def _on_linger(self) -> None:
        self._linger_timer = None
        self._stop_idle()

    def _under_standing_triggers(self) -> set[str]:
        lines: set[str] = set()
        for p in self.engine.ponds.values():
            if p.trigger is not None:
                lines.add(p.id)
                lines.update(self.engine.ancestors(p.id))
        return lines

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
        if self._loop is not None:
            self.last_seen[line] = self._loop.time()
        if line in self._warming:
            self._warming.discard(line)
            self._prestart()

    def duck_events(self, line: str, events: list[DuckEvent]) -> None:
        """Apply a batch of a Duck's events; replays change nothing."""
        if self._loop is not None:
            self.last_seen[line] = self._loop.time()

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
            engine.ripple_started(line, ripple, event.f, now)
        elif event.type == protocol.RIPPLE_SUCCEEDED:
            store.attempt_finished(line, seq, ripple, attempt, "success", event.at)
            engine.ripple_succeeded(line, ripple, now)
        elif event.type == protocol.RIPPLE_FAILED:
            store.attempt_finished(
                line, seq, ripple, attempt, "failed", event.at, event.error, event.traceback
            )
            engine.ripple_failed(line, ripple, now, retrying=event.retrying)
        elif event.type == protocol.RUN_COMPLETED and event.f is not None:
            engine.run_completed(line, event.f, now, seq=event.seq)
        elif event.type == protocol.RUN_FAILED and event.f is not None:
            engine.run_failed(line, event.f, now, event.error or "run failed", event.traceback)
        elif event.type == protocol.WORKER_ERROR:
            message = event.error or "the Duck reported an internal error"
            store.fail_running_attempts(line, now, message)
            engine.worker_failed(line, now, message)
