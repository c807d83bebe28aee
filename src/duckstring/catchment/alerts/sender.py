"""Delivering the outbox through Apprise, on a thread of its own.

The sender takes the pending notification due first, makes one attempt with a bounded
connect and read timeout, logs it, and on failure schedules the next attempt after an
exponentially growing delay, until its attempts are spent. It waits on an event (woken when a
notification is written, or at the next retry), never polls, and never touches the engine: a
dead or slow receiver costs this thread its timeout and nothing else.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Callable
from dataclasses import dataclass

import apprise

from duckstring.catchment.alerts import ledger
from duckstring.engine.clock import SECOND, Micros

log = logging.getLogger("duckstring.catchment")

#: An attempt's error as logged: Apprise's own words, at most this long.
_MAX_ERROR = 500


@dataclass(frozen=True)
class Delivery:
    """How notifications are delivered: per-attempt timeout, attempts, first retry delay
    (doubling each time) and the longest delay between attempts, in seconds."""

    timeout: float = 10.0
    attempts: int = 6
    backoff: float = 5.0
    backoff_max: float = 600.0

    def retry_at(self, attempt: int, now: Micros) -> Micros | None:
        """When to try again after failed attempt number ``attempt`` (1 for the first);
        None once the attempts are spent."""
        if attempt >= self.attempts:
            return None
        delay = min(self.backoff * 2.0 ** (attempt - 1), self.backoff_max)
        return now + round(delay * SECOND)


def deliver(url: str, title: str, body: str, level: str, timeout: float) -> str | None:
    """Send one notification through Apprise; None when it was delivered, else why not."""
    service = apprise.Apprise.instantiate(url)
    if service is None:
        return "Apprise no longer accepts the rule's URL"
    # Each attempt gets a service of its own, so no throttle state carries between attempts.
    service.socket_connect_timeout = timeout
    service.socket_read_timeout = timeout
    capture = apprise.LogCapture(level=logging.WARNING, fmt="%(message)s")  # type: ignore[no-untyped-call]
    with capture as captured:
        try:
            ok = service.notify(body=body, title=title, notify_type=apprise.NotifyType(level))
        except Exception as error:  # a plugin's own bug must not end the sender
            return f"{type(error).__name__}: {error}"[:_MAX_ERROR]
        said = captured.getvalue().strip()
    if ok:
        return None
    lines = [line for line in said.splitlines() if line.strip()]
    return (" ".join(lines[-2:]) or "the receiver did not accept it")[:_MAX_ERROR]


class Sender:
    """The thread that empties the outbox."""

    def __init__(
        self,
        connect: Callable[[], sqlite3.Connection],
        now: Callable[[], Micros],
        delivery: Delivery,
        deliver: Callable[[str, str, str, str, float], str | None] = deliver,
    ) -> None:
        self._connect = connect
        self._now = now
        self.delivery = delivery
        self._deliver = deliver
        self._wake = threading.Event()
        self._stopping = False
        self._thread = threading.Thread(
            target=self._run, name="duckstring-alert-sender", daemon=True
        )

    def start(self) -> None:
        self._thread.start()

    def wake(self) -> None:
        """Something was written to the outbox."""
        self._wake.set()

    def stop(self, timeout: float = 2.0) -> None:
        """Stop after the attempt in flight, if any (waiting at most ``timeout`` seconds:
        pending notifications stay in the outbox for the next start)."""
        self._stopping = True
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def _run(self) -> None:
        con = self._connect()
        try:
            while not self._stopping:
                try:
                    wait = self._step(con)
                except sqlite3.Error as error:
                    log.warning("the alert sender could not read its outbox: %s", error)
                    wait = self.delivery.backoff
                self._wake.wait(wait)
                self._wake.clear()
        finally:
            con.close()

    def _step(self, con: sqlite3.Connection) -> float | None:
        """Attempt every notification that is due; the seconds until the next one is."""
        while not self._stopping:
            pending = ledger.next_pending(con)
            if pending is None:
                return None
            now = self._now()
            if pending.next_at > now:
                return min((pending.next_at - now) / SECOND, 3600.0)
            if pending.url is None:
                ledger.drop(con, pending)
                continue
            error = self._deliver(
                pending.url, pending.title, pending.body, pending.level, self.delivery.timeout
            )
            at = self._now()
            retry_at = None if error is None else self.delivery.retry_at(pending.attempts + 1, at)
            ledger.attempted(con, pending, at, error, retry_at)
            if error is not None:
                log.warning(
                    "alert %s: attempt %d failed: %s", pending.rule, pending.attempts + 1, error
                )
        return None
