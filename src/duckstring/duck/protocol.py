"""The worker protocol between the Catchment and its Ducks. The Duck always dials back.

- ``GET /api/duck/{name}/{major}/jobs?duck=ID&wait=S`` is a long poll. It answers the moment a
  command exists, else after ``wait`` seconds with no commands. Commands: ``begin_run`` (a Pond
  Run of this line at freshness ``f``, with the version to run) and ``shutdown``.
- ``POST /api/duck/{name}/{major}/events`` carries what happened, in order. Every event has an
  ``id`` that is stable across replays: the Catchment applies each id once, so a Duck may resend
  its whole outbox after an outage.

Freshness and times travel as integer microseconds since the Unix epoch (UTC), the engine's own
unit, so nothing is lost to rounding between the two sides.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

#: Ducks send this header with their identity on every request.
DUCK_HEADER = "X-Duckstring-Duck"

#: Event types a Duck reports.
RIPPLE_STARTED = "ripple_started"
RIPPLE_SUCCEEDED = "ripple_succeeded"
RIPPLE_FAILED = "ripple_failed"
RUN_COMPLETED = "run_completed"
RUN_FAILED = "run_failed"
WORKER_ERROR = "worker_error"
HEARTBEAT = "heartbeat"

#: Events no decision of the Catchment waits on: a Ripple finishing lets nothing start (its
#: run's ``run_completed``, after publishing, does), and a failed attempt is followed by its
#: retry's ``ripple_started`` or by the run's ``run_failed``. A Duck may hold these back a
#: moment to post them with the event that follows, which saves a request per Ripple.
DEFERRABLE = frozenset({RIPPLE_SUCCEEDED, RIPPLE_FAILED})


class BeginRun(BaseModel):
    """Run the line's Ripples to freshness ``f``; ``kind == "force"`` re-runs every Ripple at
    ``f`` although it was already reached."""

    type: Literal["begin_run"] = "begin_run"
    seq: int = Field(description="The run's number within its line")
    f: int = Field(description="Freshness of the run, microseconds since the epoch (UTC)")
    version: str = Field(description="Deployed version whose code runs")
    kind: str = Field(description="pull, push, retry, wake or force")
    immediate_retries: int = Field(ge=0, description="Ripple retries this run may spend")


class Shutdown(BaseModel):
    """Finish nothing new: stop once in-flight work has been reported."""

    type: Literal["shutdown"] = "shutdown"
    reason: str = ""


Command = BeginRun | Shutdown


class Jobs(BaseModel):
    """Answer to a long poll."""

    commands: list[BeginRun | Shutdown] = Field(default_factory=list)


class DuckEvent(BaseModel):
    """One thing that happened in a Duck."""

    id: str = Field(description="Stable across replays; applied once")
    type: Literal[
        "ripple_started",
        "ripple_succeeded",
        "ripple_failed",
        "run_completed",
        "run_failed",
        "worker_error",
        "heartbeat",
    ]
    at: int = Field(description="When it happened, microseconds since the epoch (UTC)")
    seq: int | None = Field(default=None, description="The run it belongs to")
    f: int | None = Field(default=None, description="Freshness the Ripple or run reached")
    ripple: str | None = None
    attempt: int | None = Field(default=None, ge=0, description="0 for the first attempt")
    retrying: bool = Field(default=False, description="ripple_failed: the run tries it again")
    busy: bool = Field(default=False, description="heartbeat: a Ripple is running")
    error: str | None = None
    traceback: str | None = None


class Events(BaseModel):
    """A batch of events, oldest first."""

    events: list[DuckEvent]


def event_id(*parts: object) -> str:
    """A replay-stable event id from the facts that identify it, its type first, e.g. (type,
    seq, ripple, attempt)."""
    return ":".join(str(part) for part in parts)


def type_of(event_id: str) -> str:
    """The type of the event whose id is ``event_id``."""
    return event_id.partition(":")[0]
