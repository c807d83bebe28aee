"""How far a Duck's coordinator got with its work: for threads that wait, and for the stall rule.

The host hands commands over from its own threads and, before it reports, waits until the
coordinator handled them (the Ripples they made due have started); tests wait until the Duck is
idle. Only the coordinator moves the figures forward, and it wakes the waiters once per step.

A Duck whose work stops moving (outstanding work, yet no Ripple running and no ending on its
way) for its ``stall`` seconds reports itself stalled rather than hang unnoticed.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class Progress:
    """Commands submitted and handled, whether work is outstanding, and whether the
    coordinator stopped."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._submitted = 0
        self._handled = 0
        self._settled = threading.Condition()
        #: Whether the Duck holds work it has not finished, as of the coordinator's last step.
        self.outstanding = False
        self.stopped = False

    def submitted(self) -> None:
        """A command was handed over (any thread)."""
        with self._lock:
            self._submitted += 1

    def handled(self) -> None:
        """The coordinator handled a command, and its effects are visible."""
        with self._lock:
            self._handled += 1

    def settle(self) -> None:
        """The coordinator finished a step: wake whoever waits."""
        with self._settled:
            self._settled.notify_all()

    def stop(self) -> None:
        """The coordinator stopped: nothing more will be handled."""
        self.stopped = True
        self.settle()

    def wait_idle(self, timeout: float) -> bool:
        """Wait until every submitted command was handled and no work is outstanding."""

        def idle() -> bool:
            with self._lock:
                handled = self._handled == self._submitted
            return self.stopped or (handled and not self.outstanding)

        with self._settled:
            return self._settled.wait_for(idle, timeout)

    def wait_handled(self, timeout: float) -> bool:
        """Wait until every command submitted so far was handled, the coordinator stopped, or
        ``timeout`` passed; False on the timeout."""
        with self._lock:
            target = self._submitted

        def handled() -> bool:
            with self._lock:
                done = self._handled >= target
            return done or self.stopped

        with self._settled:
            return self._settled.wait_for(handled, timeout)


class StallWatch:
    """Times how long outstanding work has sat with nothing moving it (``now`` in seconds)."""

    def __init__(self, stall: float, now: Callable[[], float] = time.monotonic) -> None:
        self.stall = stall
        self.now = now
        self._idle_since: float | None = None

    def wait(self) -> float | None:
        """How long the coordinator may wait for its next item before the stall is due (None:
        no limit, nothing is stuck)."""
        if self._idle_since is None:
            return None
        return max(0.0, self.stall - (self.now() - self._idle_since))

    def stalled(self, stuck: bool) -> bool:
        """Whether the work has been ``stuck`` (outstanding, nothing moving it) for ``stall``
        seconds in a row; a step that is not stuck starts the count again."""
        if not stuck:
            self._idle_since = None
            return False
        if self._idle_since is None:
            self._idle_since = self.now()
            return self.stall <= 0
        return self.now() - self._idle_since >= self.stall
