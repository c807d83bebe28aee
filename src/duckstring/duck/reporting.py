"""What a Duck reports: each fact written to its ledger together with the event that tells the
Catchment, then a nudge to the sender.

The coordinator decides what happened; this writes it down. Written in the same transaction,
a fact and its event survive a crash together (:mod:`duckstring.duck.ledger`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from duckstring.duck import protocol
from duckstring.duck.events import ripple_event, run_event
from duckstring.duck.ledger import FAILED, RUNNING, SUCCESS, Ledger, RunRow
from duckstring.duck.protocol import BeginRun, run_event_id
from duckstring.duck.records import Attempt, RunsEnded
from duckstring.engine.clock import Micros


class Reporter:
    """Writes a line's run and attempt facts to ``ledger``; ``on_event`` wakes the sender."""

    def __init__(self, ledger: Ledger, on_event: Callable[[], None]) -> None:
        self.ledger = ledger
        self.on_event = on_event

    def attempt_started(self, attempt: Attempt, at: Micros) -> None:
        started = ripple_event(protocol.RIPPLE_STARTED, at, attempt)
        self.ledger.start_attempt(
            attempt.seq, attempt.f, attempt.ripple, attempt.attempt, at, started
        )
        self.on_event()

    def attempt_succeeded(self, attempt: Attempt, at: Micros) -> None:
        event = ripple_event(protocol.RIPPLE_SUCCEEDED, at, attempt)
        self.ledger.finish_attempt(
            attempt.seq, attempt.ripple, attempt.attempt, SUCCESS, at, [event]
        )
        self.on_event()

    def attempt_failed(
        self,
        attempt: Attempt,
        at: Micros,
        *,
        retrying: bool,
        error: str | None,
        trace: str | None,
    ) -> None:
        event = ripple_event(
            protocol.RIPPLE_FAILED, at, attempt, retrying=retrying, error=error, traceback=trace
        )
        self.ledger.finish_attempt(
            attempt.seq, attempt.ripple, attempt.attempt, FAILED, at, [event], error, trace
        )
        self.on_event()

    def run_not_begun(self, command: BeginRun, at: Micros, error: str, trace: str | None) -> None:
        """A run whose code does not load is recorded, and fails at once."""
        event = run_event(
            protocol.RUN_FAILED, at, command.seq, command.f, error=error, traceback=trace
        )
        row = RunRow(
            command.seq,
            command.f,
            command.version,
            command.kind,
            command.immediate_retries,
            RUNNING,
        )
        self.ledger.begin_run(row, at)
        self.ledger.finish_runs([command.seq], FAILED, at, [event], error)
        self.on_event()

    def runs_completed(
        self, seqs: Sequence[int], reported: Sequence[tuple[int, Micros]], at: Micros
    ) -> None:
        """Runs ``seqs`` end ``success``; a ``run_completed`` goes out for each (seq, f) of
        ``reported`` (the others are covered by it)."""
        events = [run_event(protocol.RUN_COMPLETED, at, seq, f) for seq, f in reported]
        self.ledger.finish_runs(seqs, SUCCESS, at, events)
        self.on_event()

    def runs_failed(self, ending: RunsEnded, at: Micros) -> None:
        event = run_event(
            protocol.RUN_FAILED,
            at,
            ending.reporting_seq,
            ending.f,
            error=ending.error,
            traceback=ending.traceback,
        )
        self.ledger.finish_runs(ending.seqs, FAILED, at, [event], ending.error)
        self.on_event()

    def ending_again(self, row: RunRow, at: Micros) -> None:
        """A run this line already finished was dispatched again: say again how it ended."""
        kind = protocol.RUN_COMPLETED if row.status == SUCCESS else protocol.RUN_FAILED
        if not self.ledger.resend(run_event_id(kind, row.seq)):
            self.ledger.add_events([run_event(kind, at, row.seq, row.f, error=row.error)])
        self.on_event()
