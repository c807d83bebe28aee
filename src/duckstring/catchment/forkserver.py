"""The forkserver launcher: Ducks as processes forked on this machine. The one module that
spawns workers.

Ducks are forked from a forkserver that has already imported DuckDB and the worker, so a new Duck
costs a fork, not a fresh interpreter and DuckDB import. A few spare Ducks wait, forked and
started, for a line to be named: a line that needs a Duck takes one at the cost of a message
(:meth:`ForkserverLauncher.take_spare`), and a new spare is forked off the dispatch path. Each
Duck leads its own process group, so ``kill`` ends everything it started; every Duck is reaped
when it exits.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import signal
import sys
import threading
import time
import types
from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from multiprocessing.context import ForkServerContext
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import TYPE_CHECKING, Any

from duckstring.catchment.launcher import DUCK_NICENESS, LauncherClosed, OnExit
from duckstring.catchment.processes import (
    is_zombie,
    line_lock_holder,
    read_memories,
    resident_memory,
)

if TYPE_CHECKING:
    import asyncio  # not at run time: see launcher.py

    from duckstring.duck.protocol import BeginRun

log = logging.getLogger("duckstring.catchment")

#: Modules the forkserver imports once, before it forks any Duck (``encodings.idna`` is what a
#: Duck's first connection would import, to encode the host name); the last one also builds
#: the DuckDB instance every Duck attaches its working database to.
PRELOAD = [
    "duckdb",
    "http.client",
    "encodings.idna",
    "duckstring.duck.worker",
    "duckstring.catchment.forkserver",
    "duckstring.duck.preload",
]


#: What ``sys.modules["__main__"]`` is while a Duck is forked: no file, no spec.
_NO_MAIN = types.ModuleType("__main__")


@contextlib.contextmanager
def _main_set_aside() -> Iterator[None]:
    """Hide the Catchment's ``__main__`` from multiprocessing while a Duck is forked.

    multiprocessing tells every child to run the parent's main script (or ``-m`` module) again,
    as ``__mp_main__``, in case the objects it is sent were defined there. A Duck is sent only
    a :class:`~duckstring.duck.worker.DuckConfig` and :func:`_duck_entry`; re-running the
    ``duckstring`` console script in it would import the whole CLI into every Duck (~100 ms of
    its start and ~20 MiB of its memory). Only the thread forking a Duck, under the Launcher's
    lock, runs while it is set aside; nothing in the Catchment reads ``__main__``.
    """
    main = sys.modules.get("__main__")
    sys.modules["__main__"] = _NO_MAIN
    try:
        yield
    finally:
        if main is not None:
            sys.modules["__main__"] = main


#: The signals a terminal sends a whole process group: Ctrl+C, and the hangup the kernel sends
#: the foreground group when the terminal closes or its session leader (a Catchment run
#: straight under a pseudo-terminal is one) exits.
TERMINAL_SIGNALS = frozenset({signal.SIGINT, signal.SIGHUP})


@contextlib.contextmanager
def _terminal_signals_blocked() -> Iterator[None]:
    """Block :data:`TERMINAL_SIGNALS` in this thread while it may start the forkserver.

    The forkserver and multiprocessing's resource tracker are started from here and share the
    Catchment's process group, so they receive whatever the terminal sends it; but they must
    outlive a Catchment stopped with Ducks at work, to reap those Ducks (they exit by
    themselves once the last one is gone). A blocked signal stays blocked across fork and
    exec, so they are deaf to the terminal from their first instruction; the Catchment itself
    gets the signal, held pending meanwhile, as soon as this returns. Ducks unblock it again
    (:func:`_as_a_duck`).
    """
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, TERMINAL_SIGNALS)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def _as_a_duck(niceness: int) -> None:
    """What a forked process does first to be a Duck: lead its own process group (so a
    terminal's signals to the Catchment's group do not reach it, and ``kill`` of the group ends
    everything it starts), take the signals the forkserver blocks as any process does, and run
    at a lower CPU priority than the Catchment (which must answer the API and dispatch whatever
    the Ducks are doing)."""
    os.setpgid(0, 0)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, TERMINAL_SIGNALS)
    with contextlib.suppress(OSError):
        os.nice(niceness)


def _forget_child(process: BaseProcess) -> None:
    """Take a started Duck off multiprocessing's own list of children.

    ``Process.start`` first polls every child on that list to drop the ones that ended, so
    with two hundred Ducks alive each new one cost the Catchment ~3 ms instead of ~0.4 ms, in
    the middle of the bursts when Ducks start. The Launcher watches and reaps its Ducks
    itself (their sentinels), and nothing in the Catchment asks multiprocessing for its
    children; off the list, a Catchment that exits without stopping its Ducks also does not
    wait for them at exit (they dial back in to the next one). ``join``, ``is_alive`` and
    ``close`` work as before. The list is private: where it is missing, nothing changes.
    """
    children = getattr(multiprocessing.process, "_children", None)
    if isinstance(children, set):
        children.discard(process)


def _duck_entry(config: Any, niceness: int) -> None:
    """Runs in the forked child: :func:`_as_a_duck`, then the worker."""
    _as_a_duck(niceness)
    from duckstring.duck.worker import run_duck

    raise SystemExit(run_duck(config))


def _spare_entry(channel: Connection, niceness: int) -> None:
    """Runs in a spare Duck: what every Duck does before it knows its line
    (:func:`_as_a_duck`, then :func:`~duckstring.duck.spare.get_ready`), then it waits for the
    config naming its line and runs it. When the Catchment goes without naming one, it exits."""
    _as_a_duck(niceness)
    from duckstring.duck.spare import get_ready
    from duckstring.duck.worker import run_duck

    get_ready()
    try:
        config = channel.recv()
    except (EOFError, OSError):
        raise SystemExit(0) from None
    finally:
        channel.close()
    raise SystemExit(run_duck(config))


@dataclass
class _Spare:
    """A spare Duck, and the pipe its config goes down."""

    process: BaseProcess
    channel: Connection


@dataclass
class DuckProcess:
    """A Duck this Catchment forked (``process``), or one it adopted after a restart."""

    line: str
    pid: int
    process: BaseProcess | None = None
    #: For an adopted Duck (not our child): a pidfd that becomes readable when it exits.
    pidfd: int | None = None
    #: The loop watching its exit (:meth:`ForkserverLauncher.watch`), until it is seen.
    watched: asyncio.AbstractEventLoop | None = None

    @property
    def adopted(self) -> bool:
        return self.process is None

    @property
    def sentinel(self) -> int:
        if self.process is not None:
            return self.process.sentinel
        assert self.pidfd is not None
        return self.pidfd

    def is_alive(self) -> bool:
        if self.process is not None:
            return self.process.is_alive()
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return False
        return not is_zombie(self.pid)


class ForkserverLauncher:
    """The Catchment's Duck processes, one per running line (a :class:`~duckstring.catchment.
    launcher.Launcher`).

    ``start`` and ``replenish`` fork, and may run on a worker thread (so a fork never stalls
    the event loop); ``take_spare`` only writes to a pipe. Forks are serialised under a lock
    that ``stop_all`` also takes, so no Duck escapes a shutdown. ``spares`` is how many spare
    Ducks ``replenish`` keeps waiting (0: none; every Duck is forked when its line needs it).
    ``make_config`` builds the config a Duck runs (a ``DuckConfig``) from the arguments of
    :meth:`start`; ``lock_of`` names a line's lock file, which a Duck holds while it works the
    line: that is how a Duck that outlived the previous Catchment is found.
    """

    def __init__(
        self,
        make_config: Callable[[str, str | None, tuple[BeginRun, ...]], Any],
        lock_of: Callable[[str], Path],
        niceness: int = DUCK_NICENESS,
        spares: int = 0,
    ) -> None:
        self._make_config = make_config
        self._lock_of = lock_of
        self.niceness = niceness
        self.spares = spares
        self._context: ForkServerContext = multiprocessing.get_context("forkserver")
        self._context.set_forkserver_preload(PRELOAD)
        self.ducks: dict[str, DuckProcess] = {}
        self._spares: list[_Spare] = []
        #: Held while a process is forked (``__main__`` is set aside meanwhile).
        self._fork_lock = threading.Lock()
        #: Held while ``ducks`` and the spares change.
        self._lock = threading.Lock()
        self._closed = False

    def warm(self) -> None:
        """Start the forkserver now, so the first Duck does not pay for it."""
        from multiprocessing import forkserver

        with _terminal_signals_blocked():
            forkserver.ensure_running()

    def start(
        self, line: str, version: str | None = None, commands: Sequence[BeginRun] = ()
    ) -> None:
        """Fork the Duck of ``line`` (see :meth:`Launcher.start`)."""
        process = self._context.Process(
            target=_duck_entry,
            args=(self._make_config(line, version, tuple(commands)), self.niceness),
            name=f"duck {line}",
            daemon=False,
        )
        with self._fork_lock:
            self._fork(process, f"no Duck starts for {line}")
            assert process.pid is not None
            with self._lock:
                self.ducks[line] = DuckProcess(line, process.pid, process=process)

    def take_spare(
        self, line: str, version: str | None = None, commands: Sequence[BeginRun] = ()
    ) -> bool:
        """Make a waiting spare the Duck of ``line``. Costs a pipe write, not a fork: safe on
        the event loop."""
        config = None
        with self._lock:
            if self._closed:
                raise LauncherClosed(f"the Catchment is stopping; no Duck starts for {line}")
            while self._spares:
                spare = self._spares.pop(0)
                if config is None:
                    config = self._make_config(line, version, tuple(commands))
                try:
                    spare.channel.send(config)
                except OSError:  # it died while it waited: the forkserver reaped it
                    self._discard(spare)
                    continue
                spare.channel.close()
                assert spare.process.pid is not None
                self.ducks[line] = DuckProcess(line, spare.process.pid, process=spare.process)
                return True
        return False

    def replenish(self, give_way: Callable[[], bool] = lambda: False) -> int:
        """Fork spare Ducks until ``spares`` wait, or until ``give_way()`` says a line's Duck
        is waiting to be forked; returns how many were forked. Run it off the event loop:
        each is a fork."""
        forked = 0
        while True:
            if give_way():
                return forked
            with self._lock:
                if self._closed or len(self._spares) >= self.spares:
                    return forked
            reader, writer = self._context.Pipe(duplex=False)
            process = self._context.Process(
                target=_spare_entry, args=(reader, self.niceness), name="duck (spare)"
            )
            try:
                with self._fork_lock:
                    self._fork(process, "no spare Duck starts")
                    with self._lock:
                        self._spares.append(_Spare(process, writer))
            except BaseException:
                writer.close()
                raise
            finally:
                reader.close()  # the spare has its own copy
            forked += 1

    def spares_waiting(self) -> int:
        with self._lock:
            return len(self._spares)

    def spare_pids(self) -> list[int]:
        """The process ids of the spares waiting, the next one to be bound first."""
        with self._lock:
            return [spare.process.pid for spare in self._spares if spare.process.pid is not None]

    def _fork(self, process: BaseProcess, refused: str) -> None:
        """Start ``process`` from the forkserver (the caller holds the fork lock)."""
        if self._closed:
            raise LauncherClosed(f"the Catchment is stopping; {refused}")
        # A fork asks the forkserver, and starts it again first if it is gone.
        with _main_set_aside(), _terminal_signals_blocked():
            process.start()
        _forget_child(process)

    def _discard(self, spare: _Spare) -> None:
        spare.channel.close()
        spare.process.join(timeout=1.0)
        if spare.process.exitcode is not None:
            spare.process.close()

    def adopt(self, line: str) -> bool:
        """Take on the Duck holding the line's lock, left running by the previous Catchment."""
        pid = line_lock_holder(self._lock_of(line))
        if pid is None:
            return False
        try:
            pidfd = os.pidfd_open(pid)
        except ProcessLookupError:
            return False
        self.ducks[line] = DuckProcess(line, pid, pidfd=pidfd)
        log.info("adopted the Duck of %s (pid %s)", line, pid)
        return True

    def watch(self, line: str, loop: asyncio.AbstractEventLoop, on_exit: OnExit) -> None:
        """Read the Duck's sentinel (its pidfd, if adopted) on ``loop``: it becomes readable
        when the Duck exits."""
        duck = self.ducks.get(line)
        if duck is None or duck.watched is not None:
            return
        duck.watched = loop
        loop.add_reader(duck.sentinel, self._ended, duck, on_exit)

    def _ended(self, duck: DuckProcess, on_exit: OnExit) -> None:
        self._unwatch(duck)
        current = self.ducks.get(duck.line) is duck
        code = self.reap(duck)
        if current:
            on_exit(duck.line, code, duck.adopted, None)

    def _unwatch(self, duck: DuckProcess) -> None:
        if duck.watched is not None:
            duck.watched.remove_reader(duck.sentinel)
            duck.watched = None

    def kill(self, line: str) -> None:
        duck = self.ducks.get(line)
        if duck is not None:
            _kill_group(duck)

    def reap(self, duck: DuckProcess) -> int | None:
        """Collect an exited Duck; its exit code (negative: killed by that signal; None for an
        adopted Duck, whose exit status only its real parent can read)."""
        code: int | None = None
        if duck.process is None:
            if duck.pidfd is not None:
                os.close(duck.pidfd)
                duck.pidfd = None
        else:
            duck.process.join(timeout=5)
            code = duck.process.exitcode
            if code is not None:
                duck.process.close()
        if self.ducks.get(duck.line) is duck:
            del self.ducks[duck.line]
        return code

    def memory(
        self, lines: Collection[str], give_way: Callable[[], bool] = lambda: False
    ) -> dict[str, int | None]:
        """The proportional set size of each line's Duck (see :func:`read_memories`)."""
        with self._lock:
            pids = {line: duck.pid for line in lines if (duck := self.ducks.get(line))}
        return read_memories(pids, give_way)

    def resident(self, lines: Collection[str]) -> dict[str, int | None]:
        """The resident set size of each line's Duck (see :func:`resident_memory`)."""
        with self._lock:
            pids = {line: duck.pid for line in lines if (duck := self.ducks.get(line))}
        return {line: resident_memory(pid) for line, pid in pids.items()}

    def waiting_for_node(self, line: str) -> None:
        """A forked Duck is on this machine from its first instruction."""
        return None

    def node_of(self, line: str) -> None:
        """Every Duck of this launcher runs on this machine."""
        return None

    def stop_all(self, timeout: float = 5.0, *, leave: Collection[str] = ()) -> dict[str, str]:
        """Stop every Duck but those of the lines in ``leave`` (SIGTERM, then SIGKILL), reap
        them, and start no more; spares are told to go by closing their pipes.

        The Ducks of ``leave`` (lines with work in flight) are let go, running: they finish
        their runs, keep their events in their ledgers and report them to the next Catchment
        on this root, which adopts them."""
        with self._fork_lock, self._lock:
            self._closed = True
            spares, self._spares = self._spares, []
        for spare in spares:
            spare.channel.close()
        ducks = list(self.ducks.values())
        self.ducks.clear()
        for duck in ducks:
            self._unwatch(duck)  # their exits from here on are this stop's doing
        left = [duck for duck in ducks if duck.line in leave and duck.is_alive()]
        for duck in left:
            _let_go(duck)
        stopping = [duck for duck in ducks if duck not in left]
        for duck in stopping:
            if duck.is_alive():
                try:
                    os.killpg(duck.pid, signal.SIGTERM)
                except (ProcessLookupError, PermissionError):
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(duck.pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for duck in stopping:
            while duck.is_alive() and time.monotonic() < deadline:
                # Its sentinel (an adopted Duck's pidfd) becomes readable when it exits.
                wait([duck.sentinel], max(0.0, deadline - time.monotonic()))
            if duck.is_alive():
                _kill_group(duck)
                if duck.process is not None:
                    duck.process.join(timeout=1.0)
            if duck.pidfd is not None:
                os.close(duck.pidfd)
                duck.pidfd = None
        for spare in spares:
            spare.process.join(timeout=max(0.1, deadline - time.monotonic()))
            if spare.process.exitcode is None:
                spare.process.kill()
                spare.process.join(timeout=1.0)
            if spare.process.exitcode is not None:
                spare.process.close()
        return {duck.line: f"pid {duck.pid}" for duck in left}


def _let_go(duck: DuckProcess) -> None:
    """Stop watching a Duck that goes on without this Catchment. Nothing of it is waited
    for: its parent is the forkserver, which reaps it (and outlives it for that)."""
    if duck.pidfd is not None:
        os.close(duck.pidfd)
        duck.pidfd = None
    duck.process = None


def _kill_group(duck: DuckProcess) -> None:
    try:
        os.killpg(duck.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        with contextlib.suppress(ProcessLookupError):
            os.kill(duck.pid, signal.SIGKILL)
