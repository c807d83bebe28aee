"""Where a Duck's Ripple functions execute: a pool of threads, each call ending in an Outcome.

A Ripple function cannot be interrupted, so the Duck keeps count of the calls executing: a Duck
that stops while one still runs leaves the working database to the process exit rather than
closing it under the call.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from duckstring.duck.records import Attempt, Outcome, one_line
from duckstring.pond.isolation import user_traceback

RippleFunction = Callable[[Any], Any]


def call_ripple(token: int, attempt: Attempt, function: RippleFunction | None) -> Outcome:
    """Run one Ripple attempt on this thread; its error and traceback name the user's code."""
    try:
        if function is None:
            raise LookupError(f"no code for Ripple {attempt.ripple!r}")
        handle = attempt.code.base.for_thread()
        try:
            function(handle)
        except BaseException as error:
            # Named while the handle still holds its snapshots: DuckDB says /dev/fd/N.
            return Outcome(
                token,
                attempt,
                handle.explain(one_line(error)),
                handle.explain(user_traceback(error)),
            )
        finally:
            handle.close()
    except BaseException as error:
        return Outcome(token, attempt, one_line(error), user_traceback(error))
    return Outcome(token, attempt)


class RippleCalls:
    """The thread pool of a Duck's Ripple attempts; each outcome goes to ``deliver``."""

    def __init__(self, deliver: Callable[[Outcome], None], max_threads: int | None) -> None:
        self.deliver = deliver
        self._pool = ThreadPoolExecutor(max_workers=max_threads or 32, thread_name_prefix="ripple")
        self._lock = threading.Lock()
        self._executing = 0
        self._closing = False

    @property
    def executing(self) -> int:
        """Ripple functions executing on pool threads right now."""
        with self._lock:
            return self._executing

    def start(self, token: int, attempt: Attempt, function: RippleFunction | None) -> None:
        self._pool.submit(self._call, token, attempt, function)

    def close(self) -> bool:
        """Start no more calls and drop the queued ones. True when calls still execute (then
        the pool is not waited for)."""
        with self._lock:
            self._closing = True
            still_running = self._executing > 0
        self._pool.shutdown(wait=not still_running, cancel_futures=True)
        return still_running

    def _call(self, token: int, attempt: Attempt, function: RippleFunction | None) -> None:
        with self._lock:
            if self._closing:
                return  # the Duck stopped before this attempt got a thread
            self._executing += 1
        try:
            outcome = call_ripple(token, attempt, function)
        finally:
            with self._lock:
                self._executing -= 1
        self.deliver(outcome)
