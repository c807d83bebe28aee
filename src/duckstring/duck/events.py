"""The events a Duck reports, each with the id that names the fact it reports (the protocol's
idempotency rule: :mod:`duckstring.duck.protocol`)."""

from __future__ import annotations

from typing import Any, cast

from duckstring.duck.protocol import DuckEvent, duck_event_id, ripple_event_id, run_event_id
from duckstring.duck.records import Attempt
from duckstring.engine.clock import Micros


def ripple_event(kind: str, at: Micros, attempt: Attempt, **fields: Any) -> DuckEvent:
    """``ripple_started`` / ``ripple_succeeded`` / ``ripple_failed`` of one attempt."""
    return DuckEvent(
        id=ripple_event_id(kind, attempt.seq, attempt.ripple, attempt.attempt),
        type=cast(Any, kind),
        at=at,
        seq=attempt.seq,
        f=attempt.f,
        ripple=attempt.ripple,
        attempt=attempt.attempt,
        **fields,
    )


def run_event(kind: str, at: Micros, seq: int, f: Micros, **fields: Any) -> DuckEvent:
    """``run_completed`` / ``run_failed`` of run ``seq``, reaching or failing at ``f``."""
    return DuckEvent(
        id=run_event_id(kind, seq), type=cast(Any, kind), at=at, seq=seq, f=f, **fields
    )


def duck_event(kind: str, at: Micros, duck_id: str, **fields: Any) -> DuckEvent:
    """``worker_error`` / ``heartbeat``: about the Duck itself, at one moment."""
    return DuckEvent(id=duck_event_id(kind, duck_id, at), type=cast(Any, kind), at=at, **fields)
