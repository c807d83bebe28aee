"""A Duck: the worker process of one major line of one Pond.

:func:`run_duck` is the whole process. It takes the line's ``duck.lock`` (one Duck per line),
opens the ledger and the working database through an :class:`~duckstring.duck.executor.Executor`
(the coordinator thread), and wires three more threads around it:

- the **poller** long-polls the Catchment for commands and hands them to the coordinator, so a
  ``begin_run`` starts its first Ripple the moment it arrives;
- the **sender** posts the outbox to the Catchment in order and in batches, retrying forever
  while the Catchment is away, and sends a heartbeat while there is work;
- the **main thread** waits, and owns the signals: SIGTERM stops promptly (nothing new is
  reported), SIGINT is ignored (the Catchment decides when its Ducks stop).

The Catchment starts Ducks with ``multiprocessing`` calling ``run_duck(DuckConfig(...))``; the
same function runs behind ``python -m duckstring.duck``. The API key travels in the config or
the environment, never on a command line.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from traceback import format_exc
from typing import IO

from duckstring.duck import protocol
from duckstring.duck.client import Backoff, DuckClient, Rejected, Unreachable
from duckstring.duck.events import duck_event
from duckstring.duck.executor import EXIT_ERROR, Executor
from duckstring.duck.ledger import Ledger, OutboxRow
from duckstring.duck.protocol import BeginRun, DuckEvent, Shutdown
from duckstring.duck.records import one_line
from duckstring.engine.clock import SystemClock
from duckstring.layout import RootLayout
from duckstring.pond.names import line_id

EXIT_LOCKED = 3

API_KEY_ENV = "DUCKSTRING_API_KEY"
URL_ENV = "DUCKSTRING_CATCHMENT_URL"

#: How long SIGTERM lets the outbox drain (a shutdown waits ``DuckConfig.flush``).
TERMINATE_FLUSH_SECONDS = 1.0

#: How long a new Duck lets the runs handed over in its config begin before it starts its
#: clients (a slow Pond module import must not keep it from polling for long).
HANDOVER_WAIT_SECONDS = 1.0

#: Events posted per request.
BATCH = 200

#: The longest a deferrable event (``protocol.DEFERRABLE``) waits for company before it is
#: posted alone. Only what a person watching sees waits on it, never a run.
HOLD_SECONDS = 0.25


@dataclass(frozen=True)
class DuckConfig:
    """Everything a Duck needs to know. Picklable, so a server can hand it to a new process.

    ``api_key`` falls back to ``DUCKSTRING_API_KEY``; ``duck_id`` defaults to one made of the
    host name and the Duck's own process id. Times are seconds: ``poll_wait`` per long poll,
    ``heartbeat`` between heartbeats while there is work, ``stall`` before outstanding work
    with nothing running is reported, ``flush``, how long a shutdown waits for its events
    to reach the Catchment (what does not stays in the ledger for the next Duck),
    ``orphan``, how long a Duck keeps polling a Catchment that does not answer before it
    stops, once it has no work left (a Duck left running by a stopped or crashed Catchment
    finishes its runs first; the events it could not deliver stay in its ledger, and a
    Catchment that comes back starts a new Duck when the line has work), and ``hold``,
    how long a finished Ripple's event may wait to go with the next one. ``version``
    is the version the Catchment expects the Duck to run first (the line's selected one): its
    code is loaded while the Duck waits for its first command, off the path of the run.
    ``commands`` are the line's commands that were waiting when the Duck was started: it
    begins them at once instead of waiting for its first poll to return them (that poll names
    them, and the Catchment drops them from the line's queue).
    """

    root: Path | str
    pond: str
    major: int
    url: str
    api_key: str | None = field(default=None, repr=False)
    duck_id: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    poll_wait: float = protocol.POLL_WAIT
    heartbeat: float = 10.0
    stall: float = 30.0
    max_threads: int | None = None
    flush: float = 10.0
    orphan: float = 120.0
    hold: float = HOLD_SECONDS
    version: str | None = None
    commands: tuple[BeginRun, ...] = ()


class DuckLocked(RuntimeError):
    """Another Duck already works this line."""


def acquire_line_lock(path: Path) -> IO[str]:
    """Hold ``duck.lock`` exclusively for as long as the returned file stays open."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle = path.open("a+")
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        holder = handle.read().strip() or "another process"
        handle.close()
        raise DuckLocked(f"{holder} already holds {path}") from None
    handle.seek(0)
    handle.truncate()
    handle.write(f"pid {os.getpid()}\n")
    handle.flush()
    return handle


#: Given the function that stops a running Duck as SIGTERM does (for a Duck that does not own
#: its process, such as one inside a cluster actor, where the signal is not its own).
OnTerminable = Callable[[Callable[[], None]], None]


def run_duck(config: DuckConfig, on_terminable: OnTerminable | None = None) -> int:
    """Run a Duck until it is told to stop; returns the process exit code.

    0: stopped as asked (shutdown or SIGTERM). 1: an internal error (reported as
    ``worker_error``). 3: another Duck holds the line. 4: stalled (reported).
    ``on_terminable`` is told how to stop the Duck once it can be stopped.
    """
    name = line_id(config.pond, config.major)
    duck_id = config.duck_id or f"{os.uname().nodename}-{os.getpid()}"
    api_key = config.api_key or os.environ.get(API_KEY_ENV) or None
    url = config.url or os.environ.get(URL_ENV, "")
    if not url:
        _say(name, f"cannot start: no Catchment URL (give one, or set {URL_ENV})")
        return EXIT_ERROR
    layout = RootLayout(config.root)
    try:
        lock_path = layout.duck_lock(config.pond, config.major)
        lock = acquire_line_lock(lock_path)
    except DuckLocked as error:
        _say(name, f"refusing to start: {error}; exactly one Duck may work a line")
        return EXIT_LOCKED
    except Exception as error:
        _say(name, f"cannot start: {one_line(error)}")
        return EXIT_ERROR
    try:
        return _run_locked(config, layout, name, duck_id, url, api_key, on_terminable)
    finally:
        lock.close()


def _run_locked(
    config: DuckConfig,
    layout: RootLayout,
    name: str,
    duck_id: str,
    url: str,
    api_key: str | None,
    on_terminable: OnTerminable | None = None,
) -> int:
    def client() -> DuckClient:
        return DuckClient(
            url,
            config.pond,
            config.major,
            duck_id,
            api_key=api_key,
            headers=config.headers,
            poll_wait=config.poll_wait,
        )

    wake = threading.Event()
    try:
        executor = Executor(
            layout,
            config.pond,
            config.major,
            duck_id=duck_id,
            max_threads=config.max_threads,
            stall=config.stall,
            on_event=wake.set,
            expect=config.version,
        )
    except Exception as error:
        message = f"cannot start: {one_line(error)}"
        _say(name, message)
        event = duck_event(protocol.WORKER_ERROR, SystemClock().now(), duck_id, error=message)
        _report_directly(client(), event)
        return EXIT_ERROR
    terminated: list[int] = []  # a plain list: safe to touch from a signal handler
    owns_process = threading.current_thread() is threading.main_thread()

    def on_sigterm(signum: int, frame: object) -> None:
        terminated.append(signum)
        executor.terminate()

    if owns_process:
        signal.signal(signal.SIGTERM, on_sigterm)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
    if on_terminable is not None:
        on_terminable(lambda: on_sigterm(signal.SIGTERM, None))

    for command in config.commands:
        executor.submit(command)
    ledger_path = layout.ledger(config.pond, config.major)
    sender: Sender | None = None
    poller: Poller | None = None
    try:
        # The coordinator first, alone: a run handed over in the config begins before the
        # clients and their threads compete with it for the interpreter (its events wait in
        # the outbox for the sender).
        executor.start()
        if config.commands:
            executor.wait_handled(HANDOVER_WAIT_SECONDS)
        sender = Sender(
            client(),
            ledger_path,
            executor,
            wake,
            name,
            heartbeat=config.heartbeat,
            hold=config.hold,
        )
        poller = Poller(
            client(),
            executor,
            name,
            orphan=config.orphan,
            held=tuple(c.seq for c in config.commands),
        )
        sender.start()
        poller.start()
        code = executor.join()
        assert code is not None
    except BaseException as error:  # the wiring itself broke: say so, as the loop would
        executor.report_worker_error(f"internal error: {one_line(error)}", format_exc())
        executor.terminate()
        executor.join(5.0)
        code = EXIT_ERROR
    if poller is not None:
        poller.stop()
    if sender is not None and sender.is_alive():
        # A Duck whose Catchment is gone does not wait long for it: its ledger keeps what
        # was not delivered, for the next Duck of the line to send.
        hurried = terminated or (poller is not None and poller.gave_up)
        sender.stop(min(config.flush, TERMINATE_FLUSH_SECONDS) if hurried else config.flush)
    if executor.unrecorded is not None:
        _report_directly(client(), executor.unrecorded)
    # A Duck that owns its process exits once this returns: its working database is left
    # checkpointed for the exit to drop, not torn down (registry.release).
    stranded = executor.close(exiting=owns_process)
    if stranded and owns_process:
        # A Ripple function cannot be interrupted, and its thread would hold the process open:
        # the work it was doing is reported by no one and runs again when re-dispatched.
        _say(name, "stopping with Ripples still running; they run again when re-dispatched")
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    return code


class Poller(threading.Thread):
    """Long-polls for commands and hands them to the coordinator.

    ``held`` are the runs handed over in the Duck's config. They stay queued at the Catchment
    until the Duck polls, so the first poll that is answered names them: the Catchment drops
    them instead of sending them straight back, and that poll waits for new work.
    """

    def __init__(
        self,
        client: DuckClient,
        executor: Executor,
        name: str,
        *,
        orphan: float = 120.0,
        held: tuple[int, ...] = (),
    ) -> None:
        super().__init__(name="duck-poller", daemon=True)
        self.client = client
        self.executor = executor
        self.line = name
        self.orphan = orphan
        self.held = held
        self.stopped = threading.Event()
        #: Set when it stopped the Duck because no Catchment answered for ``orphan`` seconds.
        self.gave_up = False

    def stop(self) -> None:
        # A long poll in progress is abandoned (the thread is a daemon): nothing waits on it.
        self.stopped.set()

    def run(self) -> None:
        backoff = Backoff()
        complaint: str | None = None
        answered = time.monotonic()
        while not self.stopped.is_set():
            try:
                commands = self.client.jobs(self.held)
            except (Unreachable, Rejected) as error:
                if complaint != str(error):
                    complaint = str(error)
                    verb = "cannot reach" if isinstance(error, Unreachable) else "refused by"
                    _say(self.line, f"job poll {verb} the Catchment ({error}); retrying")
                silent = time.monotonic() - answered
                if silent >= self.orphan and not self.executor.outstanding:
                    _say(self.line, f"no answer for {silent:.0f} s and no work: stopping")
                    self.gave_up = True
                    self.executor.submit(Shutdown(reason="the Catchment is gone"))
                    return
                self.stopped.wait(backoff.next())
                continue
            if complaint is not None:
                _say(self.line, "the Catchment answers again")
                complaint = None
            answered = time.monotonic()
            self.held = ()
            backoff.reset()
            for command in commands:
                if self.stopped.is_set():
                    return
                self.executor.submit(command)
                if isinstance(command, Shutdown):
                    return


class Sender(threading.Thread):
    """Posts unsent outbox events, oldest first, and heartbeats while work is outstanding.

    Every request costs both sides CPU, so an outbox holding only deferrable events (a Ripple
    that finished: the next Ripple's start or the run's end usually follows within
    milliseconds) waits up to ``hold`` seconds for the next event to post them together.
    Anything else, a heartbeat or a stop sends at once, in order.
    """

    def __init__(
        self,
        client: DuckClient,
        ledger_path: Path,
        executor: Executor,
        wake: threading.Event,
        name: str,
        *,
        heartbeat: float = 10.0,
        hold: float = HOLD_SECONDS,
    ) -> None:
        super().__init__(name="duck-sender", daemon=True)
        self.client = client
        self.ledger_path = ledger_path
        self.executor = executor
        self.wake = wake
        self.line = name
        self.heartbeat = heartbeat
        self.hold = hold
        self.stopped = threading.Event()
        self.deadline: float | None = None
        self.clock = SystemClock()

    def stop(self, flush_seconds: float) -> None:
        """Stop once the outbox is empty or ``flush_seconds`` passed, whichever is first."""
        self.deadline = time.monotonic() + flush_seconds
        self.stopped.set()
        self.wake.set()
        self.join(flush_seconds + 1.0)

    def run(self) -> None:
        ledger = Ledger(self.ledger_path)
        try:
            self._loop(ledger)
        except Exception as error:  # the Duck goes on; its events stay in the outbox
            _say(self.line, f"the event sender stopped: {one_line(error)}")
        finally:
            ledger.close()

    def _loop(self, ledger: Ledger) -> None:
        backoff = Backoff()
        complaint: str | None = None
        last_beat = time.monotonic()
        held_since: float | None = None
        while True:
            self.wake.clear()  # before reading, so an event committed meanwhile wakes us again
            if self._out_of_time():
                return
            rows = ledger.unsent(BATCH)
            beat_due = self.executor.outstanding and time.monotonic() - last_beat >= self.heartbeat
            if rows and not beat_due and not self.stopped.is_set() and _deferrable(rows):
                now = time.monotonic()
                held_since = now if held_since is None else held_since
                if now - held_since < self.hold:
                    self.wake.wait(self.hold - (now - held_since))
                    continue
            held_since = None
            bodies = [row.body for row in rows]
            if beat_due:
                bodies.append(self._heartbeat().model_dump_json())
            if bodies:
                try:
                    self.client.send(protocol.events_body(bodies))
                except (Unreachable, Rejected) as error:
                    if complaint != str(error):
                        complaint = str(error)
                        verb = "cannot reach" if isinstance(error, Unreachable) else "refused by"
                        _say(self.line, f"events kept: {verb} the Catchment ({error})")
                    self._nap(backoff.next())
                    continue
                if complaint is not None:
                    _say(self.line, "events flow to the Catchment again")
                    complaint = None
                backoff.reset()
                if beat_due:
                    last_beat = time.monotonic()
                if rows:
                    ledger.mark_sent([row.id for row in rows])
                    continue  # there may be more
            if self.stopped.is_set():
                return
            if self.executor.outstanding:
                timeout = max(0.0, self.heartbeat - (time.monotonic() - last_beat))
            else:
                last_beat = time.monotonic()  # new work gets its first beat a period in
                timeout = self.heartbeat
            self.wake.wait(timeout)

    def _heartbeat(self) -> DuckEvent:
        return duck_event(
            protocol.HEARTBEAT, self.clock.now(), self.client.duck_id, busy=self.executor.busy
        )

    def _out_of_time(self) -> bool:
        return self.deadline is not None and time.monotonic() >= self.deadline

    def _nap(self, seconds: float) -> None:
        """Wait before a retry: cut short by a stop, but never past the flush deadline."""
        if self.deadline is None:
            self.stopped.wait(seconds)
        else:
            time.sleep(max(0.0, min(seconds, self.deadline - time.monotonic())))


def _deferrable(rows: list[OutboxRow]) -> bool:
    return all(protocol.type_of(row.id) in protocol.DEFERRABLE for row in rows)


def _report_directly(client: DuckClient, event: DuckEvent) -> None:
    """A worker error that the ledger could not take: one direct attempt, best effort."""
    try:
        client.send(protocol.events_body([event.model_dump_json()]))
    except (Unreachable, Rejected):
        pass
    finally:
        client.close()


def _say(line: str, message: str) -> None:
    """Say it on stderr, if anyone still reads it: a Duck left running by its Catchment may
    outlive the terminal both wrote to, and a failed write must not end the thread saying it."""
    with contextlib.suppress(OSError, ValueError):
        print(f"duck {line}: {message}", file=sys.stderr, flush=True)
