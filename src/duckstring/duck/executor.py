"""The coordinator of a Duck: one thread that owns the Ripple graph and the ledger.

Everything that changes state arrives on one queue and is handled in order, on one thread:
commands from the Catchment (``begin_run``, ``shutdown``), the outcome of each Ripple attempt
(from the thread pool that runs Ripple functions) and the end of each export. Handling an item
writes the ledger and the events that report it in one transaction, then starts every Ripple
that became due, at once: there is no sleep anywhere between a command and the first Ripple.

Run endings (completed after export, or failed) go through one ordered :class:`Lane`, so the
Catchment hears about Pond Runs in the order their freshness was reached.

The class knows nothing of HTTP: tests drive it with :meth:`Executor.submit` and read the ledger.
"""

from __future__ import annotations

import contextlib
import sys
import threading
import traceback
from collections.abc import Callable
from queue import Empty, SimpleQueue
from typing import Any, Protocol

from duckstring.duck import protocol
from duckstring.duck.calls import RippleCalls
from duckstring.duck.events import duck_event
from duckstring.duck.lane import Lane
from duckstring.duck.ledger import FAILED, INTERRUPTED, RUNNING, SUCCESS, Ledger, RunRow
from duckstring.duck.progress import Progress, StallWatch
from duckstring.duck.protocol import BeginRun, DuckEvent, Shutdown
from duckstring.duck.records import (
    EXPORTING,
    FAILING,
    Attempt,
    Outcome,
    RunsEnded,
    RunState,
    Stop,
    one_line,
    reshaped_in_flight,
    run_of,
)
from duckstring.duck.registry import open_registry
from duckstring.duck.registry import prepared as registry_prepared
from duckstring.duck.registry import release as release_registry
from duckstring.duck.reporting import Reporter
from duckstring.duck.versions import LoadedVersions, VersionCode
from duckstring.engine.clock import DAY, NEVER, Micros, SystemClock
from duckstring.engine.pond import FORCE
from duckstring.engine.ripples import RetryRipple, RippleGraph
from duckstring.layout import RootLayout
from duckstring.pond.handle import swap_lock_for
from duckstring.pond.isolation import ModuleImportError
from duckstring.pond.names import line_id

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_STALLED = 4


def stderr_log(message: str) -> None:
    # A Duck may outlive the terminal it writes to (see worker._say).
    with contextlib.suppress(OSError, ValueError):
        print(message, file=sys.stderr, flush=True)


class Clock(Protocol):
    def now(self) -> Micros: ...


class Executor:
    """Runs the Pond Runs of one line: its graph, its versions, its Ripples and its ledger.

    ``on_event`` is called (from the coordinator thread) after events were committed to the
    outbox, so a sender can wake up. ``stall`` is how long outstanding work may sit with no
    Ripple running before the Duck reports itself stalled. ``expect`` names the version the
    first run will most likely use: the coordinator loads its code before it takes a command.
    """

    def __init__(
        self,
        layout: RootLayout,
        pond: str,
        major: int,
        *,
        duck_id: str = "duck",
        max_threads: int | None = None,
        stall: float = 30.0,
        clock: Clock | None = None,
        on_event: Callable[[], None] = lambda: None,
        log: Callable[[str], None] = stderr_log,
        expect: str | None = None,
    ) -> None:
        self.layout = layout
        self.pond = pond
        self.major = major
        self.duck_id = duck_id
        self.stall = stall
        self.clock: Clock = clock or SystemClock()
        self.log = log
        self.expect = expect
        layout.line(pond, major).mkdir(parents=True, exist_ok=True)
        self.ledger = Ledger(layout.ledger(pond, major))
        registry_path = layout.registry(pond, major)
        # Asked before open_registry takes the instance the forkserver prepared, if any.
        fresh_instance = not registry_prepared()
        self.con = open_registry(registry_path)
        self.swap_lock = swap_lock_for(self.con, registry_path)
        self.queue: SimpleQueue[Any] = SimpleQueue()
        self.calls = RippleCalls(self.queue.put, max_threads)
        self.lane = Lane(self.con, layout.data(pond, major), self.queue.put, warm=fresh_instance)
        self.versions = LoadedVersions(layout, pond, major, self.con, self.swap_lock)
        self.reporter = Reporter(self.ledger, on_event)
        self.graph: RippleGraph | None = None
        self.graph_seq = -1
        self.runs: dict[int, RunState] = {}
        self.latest: RunState | None = None
        #: Forced runs in flight, by seq; they complete by seq once every Ripple re-ran.
        self.forced: dict[int, Micros] = {}
        self.running: dict[int, Attempt] = {}
        self.stopping = False
        self.exit_code: int | None = None
        self.failure: str | None = None
        self.unrecorded: DuckEvent | None = None
        self._tokens = 0
        self.stall_watch = StallWatch(stall)
        self.progress = Progress()
        self._thread: threading.Thread | None = None
        self._restore()

    # -- restore ---------------------------------------------------------------------------------

    def _restore(self) -> None:
        """Pick up where an earlier Duck of this line left its ledger."""
        now = self.clock.now()
        if self.ledger.interrupt_orphans(now):
            self._say("attempts of a stopped Duck ended interrupted")
        self.ledger.prune_sent(now - 7 * DAY)
        completed = [
            run.f for run in self.ledger.runs(SUCCESS) if run.kind != FORCE and run.f != NEVER
        ]
        self.end_f: Micros = max(completed, default=NEVER)
        self.start_f: Micros = self.end_f
        self.restored_end = self.ledger.ripple_end_fs()
        for row in self.ledger.runs(RUNNING):
            self.runs[row.seq] = RunState(row.seq, row.f, row.version, row.kind, dormant=True)

    # -- driving it --------------------------------------------------------------------------------

    def start(self) -> threading.Thread:
        """Run the coordinator on its own thread."""
        self._thread = threading.Thread(target=self.run, name="duck-coordinator", daemon=True)
        self._thread.start()
        return self._thread

    def join(self, timeout: float | None = None) -> int | None:
        if self._thread is not None:
            self._thread.join(timeout)
        return self.exit_code

    def submit(self, command: BeginRun | Shutdown) -> None:
        """Hand a command from the Catchment to the coordinator (any thread)."""
        self.progress.submitted()
        self.queue.put(command)

    def shutdown(self) -> None:
        """Start nothing new, finish the running Ripples and their reports, then stop."""
        self.submit(Shutdown(reason="shutdown"))

    def terminate(self) -> None:
        """Stop now and report nothing new. Safe to call from a signal handler."""
        self.queue.put(Stop(terminate=True))

    @property
    def outstanding(self) -> bool:
        """Whether this Duck holds work it has not finished (a run, a Ripple or a report), as
        of the coordinator's last step; safe to read from any thread."""
        return self.progress.outstanding

    def _work_outstanding(self) -> bool:
        return bool(
            self.running or self.lane.pending or any(not r.dormant for r in self.runs.values())
        )

    @property
    def calls_running(self) -> int:
        """Ripple functions still executing (after a terminate, nobody waits for them)."""
        return self.calls.executing

    @property
    def busy(self) -> bool:
        """Whether a Ripple is running."""
        return bool(self.running)

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """Wait until every submitted command was handled and no work is outstanding."""
        return self.progress.wait_idle(timeout)

    def wait_handled(self, timeout: float) -> bool:
        """Wait until every command submitted so far was handled (the Ripples it made due have
        started), the coordinator stopped, or ``timeout`` passed; False on the timeout."""
        return self.progress.wait_handled(timeout)

    def close(self, *, exiting: bool = False) -> bool:
        """Release the pools, the working database and the ledger. True when Ripple functions
        are still executing (they cannot be interrupted; only the process exit ends them).

        With ``exiting`` (the process ends right after), the working database is checkpointed
        and left for the exit to drop rather than closed (:func:`registry.release`)."""
        still_running = self.calls.close()
        self.lane.close(wait=not still_running)
        if not still_running:
            if exiting:
                release_registry(self.con, self.layout.registry(self.pond, self.major))
            else:
                self.con.close()
        self.ledger.close()
        return still_running

    # -- the loop ----------------------------------------------------------------------------------

    def run(self) -> int:
        """The coordinator loop; returns the Duck's exit code."""
        try:
            self._load_expected()
            code = self._loop()
        except BaseException as error:
            self.failure = one_line(error)
            self.report_worker_error(
                f"internal error: {self.failure}", "".join(traceback.format_exception(error))
            )
            code = EXIT_ERROR
        self.exit_code = code
        self.progress.stop()
        return code

    def _load_expected(self) -> None:
        """Load the code of the version the first run will most likely use, before the first
        command arrives (a Duck started ahead of its run waits for it anyway). A version that
        does not load is left alone: the run that uses it reports why."""
        if self.expect is None:
            return
        with contextlib.suppress(Exception):
            self.versions.load(self.expect)

    def _loop(self) -> int:
        while True:
            try:
                item = self.queue.get(timeout=self.stall_watch.wait())
            except Empty:
                item = None
            if isinstance(item, Stop):
                return EXIT_OK
            if item is not None:
                self._handle(item)
            if not self.stopping:
                self._pump()
            self.progress.outstanding = self._work_outstanding()
            if isinstance(item, BeginRun | Shutdown):  # counted once its effects are visible
                self.progress.handled()
            if self.stopping and not self.running and not self.lane.pending:
                return EXIT_OK
            stuck = self.progress.outstanding and not self.running and not self.lane.pending
            if self.stall_watch.stalled(stuck):
                self.failure = (
                    f"stalled: outstanding work but no Ripple running for {self.stall:g} s"
                )
                self.report_worker_error(self.failure, None)
                return EXIT_STALLED
            self.progress.settle()

    def _handle(self, item: object) -> None:
        if isinstance(item, Outcome):
            self._attempt_ended(item)
        elif isinstance(item, RunsEnded):
            self._runs_ended(item)
        elif isinstance(item, BeginRun):
            self._begin_run(item)
        elif isinstance(item, Shutdown):
            self.stopping = True
        else:
            raise TypeError(f"the coordinator cannot handle {item!r}")

    # -- begin_run ---------------------------------------------------------------------------------

    def _begin_run(self, command: BeginRun) -> None:
        known = self.runs.get(command.seq)
        if known is not None and not known.dormant:
            return  # already in hand; its events are on their way
        if self.stopping:
            self._say(f"shutting down, not beginning run {command.seq}")
            return
        row = self.ledger.run(command.seq)
        if row is not None and row.status != RUNNING:
            self.reporter.ending_again(row, self.clock.now())
            return
        now = self.clock.now()
        try:
            code = self.versions.load(command.version)
        except Exception as error:
            self._cannot_begin(command, error, now)
            return
        run = RunState(command.seq, command.f, command.version, command.kind)
        self.runs[run.seq] = run
        self.ledger.begin_run(
            RunRow(run.seq, run.f, run.version, run.kind, command.immediate_retries, RUNNING), now
        )
        self._shape_graph(code, run)
        graph = self.graph
        assert graph is not None
        prior = self.ledger.attempts(run.seq) if row is not None else []
        succeeded = {a.ripple for a in prior if a.status == SUCCESS and a.f == run.f}
        if run.kind == FORCE:
            graph.force(run.f, command.immediate_retries)
            self.forced[run.seq] = run.f
            for name in succeeded & graph.nodes.keys():
                graph.nodes[name].force_f = None  # re-ran already before a restart
        else:
            # Ripples that succeeded at this f before a restart hold it already (restored from
            # the ledger when the graph was made), so the stamp passes them by.
            graph.stamp(run.f, command.immediate_retries)
        # Whoever feeds this run's roots began at least at its freshness.
        self.start_f = max(self.start_f, run.f)
        if prior:
            # A re-dispatched run continues its attempt numbers and its spent budget.
            for name in {a.ripple for a in prior}:
                graph.attempts[(run.f, name)] = sum(1 for a in prior if a.ripple == name)
            spent = sum(1 for a in prior if a.status == FAILED and a.error != INTERRUPTED)
            graph.budgets[run.f] = max(0, command.immediate_retries - spent)
        self._check_completion()

    def _cannot_begin(self, command: BeginRun, error: Exception, now: Micros) -> None:
        """The run's code does not load: the run fails (the Duck itself is fine)."""
        message = f"cannot load version {command.version}: {one_line(error)}"
        trace = error.traceback_text if isinstance(error, ModuleImportError) else None
        self.runs.pop(command.seq, None)
        self.reporter.run_not_begun(command, now, message, trace)

    def _shape_graph(self, code: VersionCode, run: RunState) -> None:
        """The graph follows the code of the newest run begun."""
        if self.latest is None or run.seq >= self.latest.seq:
            self.latest = run
        if self.graph is None:
            self.graph = RippleGraph(code.specs)
            for name, node in self.graph.nodes.items():
                end_f = self.restored_end.get(name, NEVER)
                node.start_f = node.end_f = end_f
            self.graph_seq = run.seq
            return
        if run.seq < self.graph_seq:
            return
        self.graph_seq = run.seq
        if list(code.specs) != self.graph.specs():
            self.graph = reshaped_in_flight(self.graph, code.specs)

    # -- Ripples -----------------------------------------------------------------------------------

    def _pump(self) -> None:
        if self.graph is None:
            return
        for name, f in self.graph.due(self.start_f):
            self._start(name, f)

    def _start(self, name: str, f: Micros) -> None:
        graph = self.graph
        assert graph is not None
        graph.start(name, f)
        number = graph.attempt_of(name, f)
        latest = self.latest
        assert latest is not None  # set with the graph
        run = run_of(self.runs.values(), latest, f, forcing=graph.nodes[name].forcing)
        code = self.versions[run.version]
        function = code.function(name)
        if function is None:  # a Ripple the run's version lacks: take the newest code
            code = self.versions[latest.version]
            function = code.function(name)
        attempt = Attempt(run.seq, f, name, number, code)
        self.reporter.attempt_started(attempt, self.clock.now())
        self._tokens += 1
        token = self._tokens
        self.running[token] = attempt
        self.calls.start(token, attempt, function)

    def _attempt_ended(self, outcome: Outcome) -> None:
        attempt = self.running.pop(outcome.token)
        graph = self.graph
        node = graph.nodes.get(attempt.ripple) if graph is not None else None
        ours = graph is not None and node is not None and node.busy
        now = self.clock.now()
        if outcome.error is None:
            self.reporter.attempt_succeeded(attempt, now)
            if ours:
                assert graph is not None
                graph.finish(attempt.ripple)
            self._check_completion()
            return
        retrying = False
        failed_f = attempt.f
        if ours:
            assert graph is not None
            result = graph.fail(attempt.ripple)
            retrying = isinstance(result, RetryRipple)
            failed_f = result.f
        elif graph is not None:  # a Ripple the current code no longer has
            graph.drop_runs_through(attempt.f)
        self.reporter.attempt_failed(
            attempt, now, retrying=retrying, error=outcome.error, trace=outcome.traceback
        )
        if not retrying:
            self._fail_runs(failed_f, attempt.seq, outcome.error, outcome.traceback)
        self._check_completion()

    # -- run endings -------------------------------------------------------------------------------

    def _check_completion(self) -> None:
        """Runs the Ripples completed go to the lane: exported, then reported completed."""
        graph = self.graph
        if graph is None:
            return
        end_f = graph.leaves_end_f()
        if end_f > self.end_f:
            self.end_f = end_f
            graph.settle(end_f)
        # Every run at or below the Pond's freshness is done (the newest covers older ones).
        covered = [
            r
            for r in self.runs.values()
            if r.status == RUNNING and r.kind != FORCE and r.f <= self.end_f
        ]
        if covered:
            exact = [r for r in covered if r.f == self.end_f] or covered
            reporting = max(exact, key=lambda r: r.seq).seq
            self._export([r.seq for r in covered], self.end_f, reporting)
        if self.forced and graph.forced_done():
            seqs = sorted(self.forced)
            self.forced.clear()
            self._export(seqs, max(self.runs[s].f for s in seqs), seqs[-1], forced=True)

    def _export(self, seqs: list[int], f: Micros, reporting: int, *, forced: bool = False) -> None:
        for seq in seqs:
            self.runs[seq].status = EXPORTING
        self.lane.complete(RunsEnded(tuple(seqs), f, reporting, forced))

    def _fail_runs(self, f: Micros, seq: int, error: str | None, trace: str | None) -> None:
        """The run at ``f`` spent its budget: it fails, with every run at or below it (the
        graph dropped what they still owed). Reported behind the exports already queued."""
        failing = [r for r in self.runs.values() if r.status == RUNNING and r.f <= f]
        if not failing:
            return
        for run in failing:
            run.status = FAILING
            self.forced.pop(run.seq, None)
        seqs = tuple(sorted(r.seq for r in failing))
        reporting = seq if seq in seqs else seqs[-1]
        self.lane.fail(RunsEnded(seqs, f, reporting, False, error, trace))

    def _runs_ended(self, ending: RunsEnded) -> None:
        self.lane.ended()
        now = self.clock.now()
        if ending.error is None:
            # Forced runs each report their own completion; the rest, one run reports for all.
            reported = (
                [(seq, self.runs[seq].f) for seq in ending.seqs]
                if ending.forced
                else [(ending.reporting_seq, ending.f)]
            )
            self.reporter.runs_completed(ending.seqs, reported, now)
        else:
            self.reporter.runs_failed(ending, now)
        for seq in ending.seqs:
            self.runs.pop(seq, None)

    # -- helpers -----------------------------------------------------------------------------------

    def _say(self, message: str) -> None:
        self.log(f"duck {line_id(self.pond, self.major)}: {message}")

    def report_worker_error(self, message: str, trace: str | None) -> None:
        """Put a ``worker_error`` in the outbox. If the ledger itself is the problem, the event
        is kept in :attr:`unrecorded` for the host to send directly."""
        event = duck_event(
            protocol.WORKER_ERROR, self.clock.now(), self.duck_id, error=message, traceback=trace
        )
        self._say(message)
        try:
            self.ledger.add_events([event])
        except Exception as error:
            self._say(f"cannot record the worker error: {one_line(error)}")
            self.unrecorded = event
            return
        self.reporter.on_event()
