"""The thin asyncio adapter of the fleet policy: it tells the policy
(:class:`~duckstring.catchment.fleet.Fleet`) what happened and carries out the actions it
returns.

Everything here runs on the server's event loop thread but the blocking calls of the launcher
(a fork, reading a process's memory), which go to one spawner thread so they never stall the
loop. Exits come from the launcher's watch on each Duck; the policy's wake-up time is one timer.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING, TypeVar

from duckstring.catchment.fleet import (
    Action,
    Adopt,
    Fail,
    Fleet,
    FleetRules,
    Kill,
    Measure,
    Replenish,
    Shutdown,
    Spawn,
)
from duckstring.catchment.fleet_view import CatchmentView
from duckstring.catchment.launcher import Launcher, LauncherClosed
from duckstring.duck import protocol
from duckstring.duck.protocol import BeginRun

if TYPE_CHECKING:
    from duckstring.catchment.driver import Driver

log = logging.getLogger("duckstring.catchment")

T = TypeVar("T")


class FleetAdapter:
    """Runs the fleet of one Catchment: the policy, its launcher, one spawner thread, one timer."""

    def __init__(
        self,
        driver: Driver,
        launcher: Launcher,
        rules: FleetRules,
        can_spawn: Callable[[], bool] = lambda: True,
    ) -> None:
        self.policy = Fleet(rules)
        self.launcher = launcher
        self.view = CatchmentView(driver, launcher, can_spawn)
        self._driver = driver
        self._loop: asyncio.AbstractEventLoop | None = None
        self._spawner = ThreadPoolExecutor(max_workers=1, thread_name_prefix="duck-spawn")
        #: Forks of a line's Duck queued on the spawner thread: the spares and the memory
        #: readings there give way to them. Read from that thread; an int is read whole.
        self._forks_waiting = 0
        self._replenishing = False
        self._measuring = False
        #: The wake-up armed, and when (uvloop answers a moment already past with a plain
        #: Handle, which cannot say when it runs).
        self._timer: asyncio.Handle | None = None
        self._timer_at = 0.0
        #: Actions decided and not yet carried out: an action that changes the engine (a
        #: failure) asks the policy again, and what it decides then waits its turn.
        self._queue: deque[Action] = deque()
        self._carrying_out = False
        #: Set by :meth:`stop`: the Ducks are stopped next and the store closed, so nothing
        #: that happens to them from then on is news.
        self._stopped = False

    # -- life ----------------------------------------------------------------------------------

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        """Adopt the Ducks that outlived the previous Catchment process: they keep their
        lines (they dial back in), and no second Duck starts beside one."""
        self._loop = loop
        for line in self._driver.lines:
            if self.launcher.adopt(line):
                self.policy.adopted(line, loop.time())
                self.launcher.watch(line, loop, self._exited)

    def stop(self) -> None:
        # A fork in progress finishes and registers its Duck, so stop_all stops it too.
        self._spawner.shutdown(wait=True, cancel_futures=True)
        self._stopped = True
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def at_work(self) -> set[str]:
        """The lines whose Ducks a graceful stop leaves running (see :meth:`Fleet.at_work`)."""
        return self.policy.at_work(self.view)

    # -- what the driver tells -----------------------------------------------------------------

    def run_posted(self, line: str, *, shutdown_withdrawn: bool) -> None:
        if shutdown_withdrawn:
            self.policy.shutdown_withdrawn(line)
        self.policy.run_posted(line)

    def kill(self, line: str) -> None:
        self._carry_out(self.policy.kill(line))

    def polled(self, line: str) -> None:
        if self._loop is not None and self.policy.polled(line, self._loop.time()):
            self.review()

    def heard(self, line: str) -> None:
        if self._loop is not None:
            self.policy.heard(line, self._loop.time())

    def review(self) -> None:
        """Ask the policy what to do now, do it, and wake when it says."""
        if self._loop is None or self._stopped:
            return
        decision = self.policy.decide(self._loop.time(), self.view)
        self._carry_out(decision.actions)
        if decision.wake_at is not None:
            self._wake_at(decision.wake_at)

    # -- carrying out --------------------------------------------------------------------------

    def _carry_out(self, actions: list[Action]) -> None:
        self._queue.extend(actions)
        if self._carrying_out:
            return
        self._carrying_out = True
        try:
            while self._queue:
                self._do(self._queue.popleft())
        except BaseException:
            self._queue.clear()
            raise
        finally:
            self._carrying_out = False

    def _do(self, action: Action) -> None:
        if isinstance(action, Spawn):
            self._spawn(action.line)
        elif isinstance(action, Shutdown):
            self._driver.board.post(action.line, protocol.Shutdown(reason="idle"))
        elif isinstance(action, Kill):
            self.launcher.kill(action.line)
        elif isinstance(action, Fail):
            self._driver.fail_line(action.line, action.message)
        elif isinstance(action, Adopt):
            self._adopt(action.line)
        elif isinstance(action, Measure):
            self._measure(action.lines)
        elif isinstance(action, Replenish):
            self._replenish()

    def _spawn(self, line: str) -> None:
        deployment = self._driver.lines.get(line)
        version = None if deployment is None else deployment.version
        # The runs it is started for travel with it: it begins them without a poll's round
        # trip. They stay queued until its first poll, which names them to drop them.
        waiting = tuple(c for c in self._driver.board.pending(line) if isinstance(c, BeginRun))
        try:
            bound = self.launcher.take_spare(line, version, waiting)
        except LauncherClosed:
            self.policy.start_failed(line, None, self.view)
            return
        if bound:
            self._started(line)  # a new spare is forked once no run is in flight
            return
        self._forks_waiting += 1
        if not self._on_spawner(
            lambda: self.launcher.start(line, version, waiting),
            lambda done: self._spawn_finished(line, done),
        ):
            self._forks_waiting -= 1
            self.policy.start_failed(line, None, self.view)

    def _spawn_finished(self, line: str, done: Future[None]) -> None:
        self._forks_waiting -= 1
        if self._stopped:
            return
        error = None if done.cancelled() else done.exception()
        if error is None and not done.cancelled():
            self._started(line)
            self.review()  # its work may have gone while it was forking
        elif error is None or isinstance(error, LauncherClosed):
            self.policy.start_failed(line, None, self.view)
        else:
            log.error("could not start the Duck of %s: %s", line, error)
            message = f"could not start the Duck of {line}: {error}"
            self._carry_out(self.policy.start_failed(line, message, self.view))

    def _started(self, line: str) -> None:
        assert self._loop is not None
        self.policy.started(line, self._loop.time())
        self.launcher.watch(line, self._loop, self._exited)

    def _exited(self, line: str, code: int | None, adopted: bool, reason: str | None) -> None:
        """The launcher saw the line's Duck end (``reason``: why, when it knows)."""
        if self._stopped or self._loop is None:
            return
        now = self._loop.time()
        self._carry_out(
            self.policy.exited(line, code, adopted=adopted, now=now, view=self.view, reason=reason)
        )
        self.review()

    def _adopt(self, line: str) -> None:
        assert self._loop is not None
        if self.launcher.adopt(line):
            self.policy.adopted(line, self._loop.time())
            self.launcher.watch(line, self._loop, self._exited)
        else:
            self._carry_out(self.policy.not_adopted(line, self.view))

    def _measure(self, lines: tuple[str, ...]) -> None:
        """Read the memory of these idle Ducks on the spawner thread, giving way to a Duck
        that waits there to be forked (the rest are read once it is quiet again)."""
        if self._measuring:
            return
        self._measuring = self._on_spawner(
            lambda: self.launcher.memory(lines, self._fork_waits), self._measured
        )

    def _measured(self, done: Future[dict[str, int | None]]) -> None:
        self._measuring = False
        if self._stopped or done.cancelled() or done.exception() is not None:
            return
        sizes = done.result()
        if sizes:  # none read: it gave way, and the policy asks again once it is quiet
            self.policy.measured(sizes)
            self.review()

    def _replenish(self) -> None:
        """Fork spare Ducks on the spawner thread; a line's Duck queued behind goes first."""
        if self._replenishing:
            return
        self._replenishing = self._on_spawner(
            lambda: self.launcher.replenish(self._fork_waits), self._replenished
        )

    def _replenished(self, done: Future[int]) -> None:
        self._replenishing = False
        if done.cancelled():
            return
        error = done.exception()
        if error is not None and not isinstance(error, LauncherClosed):
            log.error("could not fork a spare Duck: %s", error)

    def _fork_waits(self) -> bool:
        return self._forks_waiting > 0

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

    # -- time ------------------------------------------------------------------------------------

    def _wake_at(self, at: float) -> None:
        """Wake at ``at`` (loop time) unless a wake-up comes sooner. A later one is kept: it
        asks the policy, which says when next (not on the dispatch path: this only stops
        Ducks and watches for silence)."""
        assert self._loop is not None
        timer = self._timer
        if timer is not None:
            if self._timer_at <= at:
                return
            timer.cancel()
        self._timer = self._loop.call_at(at, self._wake)
        self._timer_at = at

    def _wake(self) -> None:
        self._timer = None
        self.review()
