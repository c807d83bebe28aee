"""Alerts of one Catchment: the driver's hook, the evaluator thread and the sender thread.

On the event loop, :meth:`Alerts.seen` runs after each committed change: it takes the facts
(:class:`~duckstring.catchment.alerts.book.LineFacts`) of the lines the change touched,
keeps those that moved and puts them on a bounded queue; that is all the engine's path pays.
The evaluator thread applies them to the :class:`~duckstring.catchment.alerts.book.AlertBook`,
writes what it decides (incidents, fired conditions, notices into the outbox) in one
transaction of its own connection, and sleeps until the next batch or the next moment a
condition could come true. The sender thread delivers the outbox. After a restart the first
batch holds every line, and the book reconciles the stored incidents with it: a failure that
happened while nobody evaluated still alerts, a recovery still closes its incident.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import sqlite3
import threading
from collections.abc import Iterable
from pathlib import Path

from duckstring.catchment.alerts import ledger
from duckstring.catchment.alerts.book import (
    AlertBook,
    Change,
    LineFacts,
    Prediction,
    facts_of,
    notice_of_test,
)
from duckstring.catchment.alerts.forecasts import Forecaster
from duckstring.catchment.alerts.rules import AlertRule
from duckstring.catchment.alerts.sender import Delivery, Sender
from duckstring.catchment.store.db import Store
from duckstring.engine.clock import SECOND, SystemClock
from duckstring.engine.core import Engine

log = logging.getLogger("duckstring.catchment")

#: Batches waiting for the evaluator at most; past it the hook keeps the lines that moved and
#: sends them once there is room again (the book works from states, so nothing is lost but a
#: fault that began and ended meanwhile).
QUEUE_BOUND = 10_000

_STOP = object()
_RULES = object()


class _Predicted(list[Prediction]):
    """A batch of forecasts, as the forecaster's worker thread queues it."""


class Alerts:
    """Started and stopped with its Catchment."""

    def __init__(
        self,
        database: Path,
        delivery: Delivery,
        clock: SystemClock | None = None,
        store: Store | None = None,
        forecast_every: float = 1.0,
    ) -> None:
        self.database = database
        self.clock = clock or SystemClock()
        self._queue: queue.Queue[object] = queue.Queue(maxsize=QUEUE_BOUND)
        #: The facts last queued of each line (only the event loop touches it).
        self._queued: dict[str, LineFacts] = {}
        #: Lines whose facts moved but could not be queued (the queue was full).
        self._missed: set[str] = set()
        self._reload = threading.Event()
        self.sender = Sender(lambda: ledger.connect(database), self.clock.now, delivery)
        self._thread = threading.Thread(
            target=self._evaluate, name="duckstring-alert-evaluator", daemon=True
        )
        #: Forecasts for forecast-breach rules (with the store the durations come from).
        self.forecaster = (
            None
            if store is None
            else Forecaster(store, self.clock, self._predicted, every=forecast_every)
        )

    def start(self) -> None:
        if self.forecaster is not None:
            self.forecaster.set_rules(self._stored_rules())
        self.sender.start()
        self._thread.start()

    def stop(self) -> None:
        """Stop both threads; what is pending stays in the outbox for the next start."""
        with contextlib.suppress(queue.Full):
            self._queue.put(_STOP, timeout=1.0)
        self._thread.join(2.0)
        if self.forecaster is not None:
            self.forecaster.close()
        self.sender.stop()

    # -- on the event loop ---------------------------------------------------------------------

    def seen(self, engine: Engine, changed: Iterable[str]) -> None:
        """The driver's hook: queue the facts of the changed lines that moved."""
        if self.forecaster is not None:
            changed = list(changed)
            self.forecaster.changed(engine, changed)
        if self._missed:
            # A batch was refused: its lines go with this one (at most every line once).
            changed = self._missed.union(changed)
            self._missed = set()
        batch = []
        for line in changed:
            p = engine.ponds.get(line)
            if p is None:
                continue
            facts = facts_of(p)
            if self._queued.get(line) != facts:
                batch.append(facts)
        if not batch:
            return
        try:
            self._queue.put_nowait(batch)
        except queue.Full:
            self._missed = {facts.id for facts in batch}
            return
        for facts in batch:
            self._queued[facts.id] = facts

    def rules_changed(self) -> None:
        """A rule was added or removed (the routes wrote it): the evaluator reloads them."""
        self._reload.set()
        if self.forecaster is not None:
            self.forecaster.set_rules(self._stored_rules())
        # Only to wake it; a full queue means it is awake, and reloads with its next batch.
        with contextlib.suppress(queue.Full):
            self._queue.put_nowait(_RULES)

    def test(self, con: sqlite3.Connection, rule: AlertRule) -> None:
        """Write a test notification of ``rule`` to the outbox (on ``con``) and send it."""
        now = self.clock.now()
        ledger.enqueue(con, notice_of_test(rule, now), now)
        self.sender.wake()

    def _stored_rules(self) -> list[AlertRule]:
        con = ledger.connect(self.database)
        try:
            return ledger.rules(con)
        finally:
            con.close()

    def _predicted(self, predictions: list[Prediction]) -> None:
        """From the forecaster's thread: the evaluator takes the forecasts with its next batch
        (a full queue drops them; the next change forecasts again)."""
        with contextlib.suppress(queue.Full):
            self._queue.put_nowait(_Predicted(predictions))

    # -- the evaluator thread ------------------------------------------------------------------

    def _evaluate(self) -> None:
        con = ledger.connect(self.database)
        try:
            book = AlertBook(
                ledger.rules(con),
                ledger.incidents(con),
                ledger.fired(con),
                error_of=lambda line: ledger.last_error(con, line),
            )
            while True:
                now = self.clock.now()
                due = book.next_check(now)
                # At most an hour: a far bound must not exceed the longest wait a lock takes.
                wait = None if due is None else min(max(0.0, (due - now) / SECOND), 3600.0)
                try:
                    items = [self._queue.get(timeout=wait)]
                except queue.Empty:
                    items = []
                while True:
                    try:
                        items.append(self._queue.get_nowait())
                    except queue.Empty:
                        break
                if _STOP in items:
                    return
                try:
                    self._apply(con, book, items)
                except sqlite3.Error as error:
                    log.warning("alerts could not be evaluated: %s", error)
        finally:
            con.close()

    def _apply(self, con: sqlite3.Connection, book: AlertBook, items: list[object]) -> None:
        now = self.clock.now()
        changes: list[Change] = []
        if self._reload.is_set():
            self._reload.clear()
            changes += book.set_rules(ledger.rules(con), now)
        for item in items:
            if isinstance(item, _Predicted):
                changes += book.predicted(item, now)
            elif isinstance(item, list):
                changes += book.observe(item, now)
        due = book.next_check(now)
        if due is not None and due <= now:
            changes += book.tick(now)
        if changes and ledger.record(con, changes, now):
            self.sender.wake()
