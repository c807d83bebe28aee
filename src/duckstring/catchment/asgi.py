"""The packaged ASGI entry: ``uvicorn duckstring.catchment.asgi:app``, or
``python -m duckstring.catchment`` (the same app, without uvicorn's ten wake-ups a second).

Configured only by the environment: ``DUCKSTRING_ROOT`` (default ``./.duckstring``),
``DUCKSTRING_API_KEY`` (unset: open) and ``DUCKSTRING_CATCHMENT_URL`` (where Ducks dial back;
learned from the first request when unset). Run exactly one process of it per root.

Failure-detection timeouts can be shrunk (for tests) with ``DUCKSTRING_DUCK_SILENCE`` (60 s),
``DUCKSTRING_DUCK_STALL`` (30 s) and ``DUCKSTRING_DUCK_HEARTBEAT`` (10 s), in seconds. A Duck
left running by a stop (it had work in flight) goes on ``DUCKSTRING_DUCK_ORPHAN`` seconds (120)
without an answer from a Catchment before it stops, once its work is done.
``DUCKSTRING_DUCK_PRESTART`` (16) is how many Ducks may be started ahead of their line's first
run at once (0 starts every Duck only when its run begins), and ``DUCKSTRING_DUCK_SPARES`` (2)
how many spare Ducks wait, forked and started, for a line that needs one (0: fork on demand;
at most 16). An idle Duck is kept ``DUCKSTRING_DUCK_LINGER`` seconds (60; 0 stops it at once)
for its line's next run; at most ``DUCKSTRING_DUCK_LINGER_MAX`` idle Ducks wait at a time
(default: 4 to 128, by memory), holding at most ``DUCKSTRING_DUCK_LINGER_MIB`` MiB together
(default: a sixteenth of the machine's memory; each Duck's memory is measured as it goes idle).
Ducks run ``DUCKSTRING_DUCK_NICE`` (19) steps below the Catchment's CPU priority, so it stays
responsive however busy they are (0: the same priority).
A query over published tables is stopped after ``DUCKSTRING_QUERY_TIMEOUT`` seconds (30).
An alert delivery attempt waits at most ``DUCKSTRING_ALERT_TIMEOUT`` seconds (10) to connect and
as long to read; a notification gets ``DUCKSTRING_ALERT_ATTEMPTS`` attempts (6), the first retry
after ``DUCKSTRING_ALERT_BACKOFF`` seconds (5), each next one twice as late.
``DUCKSTRING_LAUNCHER`` (``local``) says how Ducks start: ``local`` forks them here, ``ray``
runs each as a detached actor on the Ray cluster at ``DUCKSTRING_RAY_ADDRESS`` (``auto`` or
``HOST:PORT``; unset, a local Ray is started and ends with the Catchment).
``DUCKSTRING_ALLOW_LOCAL_GIT=1`` lets a git deploy clone a local path or ``file://`` URL; unset,
they are refused, since a hosted Catchment must not clone its own disk.
"""

from __future__ import annotations

from duckstring.catchment.app import create_app
from duckstring.catchment.settings import config_from_environment

__all__ = ["app", "config_from_environment"]

app = create_app(config_from_environment())
