"""The worker protocol between the Catchment and its Ducks, defined once. The Duck always dials.

- ``GET /api/duck/{name}/{major}/jobs?duck=ID&wait=S`` is a long poll. It answers the moment a
  command exists, else after ``wait`` seconds with no commands. Commands: ``begin_run`` (a Pond
  Run of this line at freshness ``f``, with the version to run) and ``shutdown``.
- ``POST /api/duck/{name}/{major}/events`` carries what happened, in order.

Events are idempotent: every event's ``id`` names the fact it reports, never when it was sent —
a Ripple attempt's events by (type, run, Ripple, attempt), a run's ending by (type, run), so by
the line's run at its freshness. The Catchment applies each (line, id) once, recording the id
in the same transaction as the change it made (heartbeats are heard, never applied), so a Duck
may resend its whole outbox after an outage and a replay changes nothing.

The Catchment's routes, the lane in front of them and the Duck's client all read and write the
wire with what is here: the paths, the long poll's query, the models and the event ids.
Freshness and times travel as integer microseconds since the Unix epoch (UTC), the engine's own
unit, so nothing is lost to rounding between the two sides.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from decimal import Decimal
from typing import Literal, NamedTuple
from urllib.parse import parse_qsl, quote, urlencode

from pydantic import BaseModel, Field, ValidationError

#: Ducks send this header with their identity on every request.
DUCK_HEADER = "X-Duckstring-Duck"
#: What an event batch is posted as, and what the Catchment answers with.
MEDIA_TYPE = "application/json"

#: How long a poll that does not say waits for a command, and the longest it may ask, in seconds.
POLL_WAIT = 25.0
POLL_WAIT_MAX = 60.0

# -- paths -----------------------------------------------------------------------------------

JOBS = "jobs"
EVENTS = "events"
#: The two routes as the Catchment's router declares them, under its ``/api``.
JOBS_ROUTE = "/duck/{name}/{major}/jobs"
EVENTS_ROUTE = "/duck/{name}/{major}/events"

#: A protocol path as the server hands it to the app (decoded), with the routes' ``{name}``
#: (one path segment) and an ``int`` major.
_PATH = re.compile(r"/api/duck/([^/]+)/([0-9]{1,18})/(jobs|events)")


def jobs_path(name: str, major: int) -> str:
    """Where the Duck of line ``name@major`` polls, below the Catchment's base URL."""
    return f"/api/duck/{quote(name, safe='')}/{major}/{JOBS}"


def events_path(name: str, major: int) -> str:
    """Where the Duck of line ``name@major`` posts its events, below the Catchment's base URL."""
    return f"/api/duck/{quote(name, safe='')}/{major}/{EVENTS}"


def parse_path(path: str) -> tuple[str, int, str] | None:
    """``(name, major, JOBS or EVENTS)`` of a decoded protocol path; None if it is not one."""
    match = _PATH.fullmatch(path)
    if match is None:
        return None
    name, major, action = match.groups()
    return name, int(major), action


# -- the long poll ---------------------------------------------------------------------------


class JobsQuery(BaseModel):
    """The long poll's query, as the route reads and the OpenAPI document describes it."""

    duck: str | None = Field(default=None, description="The polling Duck's id")
    wait: float = Field(
        default=POLL_WAIT,
        ge=0,
        le=POLL_WAIT_MAX,
        description="Seconds to wait for a command before answering with none",
    )
    held: list[int] = Field(
        default_factory=list,
        description="Runs the Duck already holds (handed to it when it was started): "
        "their begin_run commands are dropped, not answered",
    )


class Poll(NamedTuple):
    """A long poll's query as :func:`read_jobs_query` reads it: :class:`JobsQuery`'s fields in
    a plain tuple (the lane reads one per poll, and building a model costs it microseconds)."""

    duck: str | None
    wait: float
    held: tuple[int, ...]


#: Query values as :func:`jobs_query` writes them; any other spelling is left to the route.
_SECONDS = re.compile(r"[0-9]+(\.[0-9]+)?")
_SEQ = re.compile(r"-?[0-9]{1,19}")


def jobs_query(duck: str, wait: float, held: Iterable[int] = ()) -> str:
    """The query string of Duck ``duck``'s long poll."""
    query = [("duck", duck), ("wait", _seconds(wait))]
    query += [("held", str(seq)) for seq in held]
    return urlencode(query)


def read_jobs_query(query: str) -> Poll | None:
    """The long poll's query as :func:`jobs_query` writes it; None for anything else (the
    route then reads it, and names what is wrong)."""
    duck: str | None = None
    wait = POLL_WAIT
    held: list[int] = []
    for key, value in parse_qsl(query, keep_blank_values=True):
        if key == "wait":
            if not _SECONDS.fullmatch(value):
                return None
            wait = float(value)
            if wait > POLL_WAIT_MAX:
                return None
        elif key == "held":
            if not _SEQ.fullmatch(value):
                return None
            held.append(int(value))
        elif key == "duck":
            duck = value
    return Poll(duck, wait, tuple(held))


def _seconds(value: float) -> str:
    """``value`` in positional notation, as short as reads back the same (``25.0``, ``0.5``)."""
    text = repr(value)
    return format(Decimal(text), "f") if "e" in text else text


# -- commands --------------------------------------------------------------------------------


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


# -- events ----------------------------------------------------------------------------------

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


def ripple_event_id(kind: str, seq: int, ripple: str, attempt: int) -> str:
    """The id of a Ripple attempt's ``ripple_started`` / ``_succeeded`` / ``_failed``."""
    return f"{kind}:{seq}:{ripple}:{attempt}"


def run_event_id(kind: str, seq: int) -> str:
    """The id of run ``seq``'s ``run_completed`` / ``run_failed``."""
    return f"{kind}:{seq}"


def duck_event_id(kind: str, duck_id: str, at: int) -> str:
    """The id of a ``worker_error`` or ``heartbeat``: facts about the Duck at one moment."""
    return f"{kind}:{duck_id}:{at}"


def type_of(event_id: str) -> str:
    """The type of the event whose id is ``event_id``."""
    return event_id.partition(":")[0]


def events_body(events: Iterable[str]) -> bytes:
    """The body of an event post, from events already serialised as JSON (the Duck's ledger
    keeps each one so): nothing is parsed again on the way out."""
    return ('{"events":[' + ",".join(events) + "]}").encode()


#: Times, freshness, run numbers and attempts are stored as SQLite's 64-bit integers.
_INT64 = range(-(2**63), 2**63)


def out_of_range(events: list[DuckEvent]) -> str | None:
    """Why the batch cannot be stored (None: it can)."""
    for event in events:
        for field in ("at", "seq", "f", "attempt"):
            value = getattr(event, field)
            if value is not None and value not in _INT64:
                return f"event {event.id!r}: {field} is out of range"
    return None


def read_events(body: bytes) -> list[DuckEvent] | None:
    """The events of a post's body, or None if they are not a batch the Catchment can store
    (the route then reads it, and names what is wrong)."""
    try:
        batch = Events.model_validate_json(body)
    except ValidationError:
        return None
    return batch.events if out_of_range(batch.events) is None else None
