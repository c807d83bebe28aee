"""Settings a Catchment reads from the environment, however it is started (the ASGI entry, or
``duckstring catchment init/start`` and ``duckstring demo`` through
:mod:`duckstring.catchment.entry`). A bad value stops the start with one line naming the
variable. :mod:`duckstring.catchment.asgi` lists the variables."""

from __future__ import annotations

import math
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from duckstring.catchment.service import CatchmentConfig


class SettingError(SystemExit):
    """A variable holds a value the Catchment cannot run with (it exits with the message)."""


def seconds(
    variable: str, default: float, *, zero: bool = False, most: float | None = None
) -> float:
    """``variable`` as seconds (``default`` when unset or empty); positive, or 0 if ``zero``."""
    text = os.environ.get(variable)
    if not text:
        return default
    try:
        value = float(text)
    except ValueError:
        raise SettingError(f"{variable} must be a number of seconds, not {text!r}") from None
    if value < 0 or (value == 0 and not zero) or math.isnan(value):
        raise SettingError(
            f"{variable} must be {'at least 0' if zero else 'positive'}, not {text!r}"
        )
    if most is not None and value > most:
        raise SettingError(f"{variable} must be at most {most:,.10g} seconds, not {text!r}")
    return value


def count(variable: str, default: int, *, most: int | None = None) -> int:
    """``variable`` as a whole number of at least 0 (``default`` when unset or empty)."""
    text = os.environ.get(variable)
    if not text:
        return default
    try:
        value = int(text)
    except ValueError:
        raise SettingError(f"{variable} must be a whole number, not {text!r}") from None
    if value < 0:
        raise SettingError(f"{variable} must not be negative, not {text!r}")
    if most is not None and value > most:
        raise SettingError(f"{variable} must be at most {most}, not {text!r}")
    return value


def flag(variable: str) -> bool:
    """``variable`` as on (``1``, ``true``, ``yes``) or off (unset, empty, ``0``, ``false``,
    ``no``)."""
    text = os.environ.get(variable, "").strip().lower()
    if text in ("", "0", "false", "no"):
        return False
    if text in ("1", "true", "yes"):
        return True
    raise SettingError(f"{variable} must be 1 or 0, not {os.environ[variable]!r}")


#: The launchers a Catchment can start its Ducks with.
LAUNCHERS = ("local", "ray")


def launcher_choice(variable: str, default: str) -> str:
    """``variable`` as one of :data:`LAUNCHERS` (``default`` when unset or empty)."""
    text = os.environ.get(variable, "").strip().lower()
    if not text:
        return default
    if text not in LAUNCHERS:
        raise SettingError(f"{variable} must be {' or '.join(LAUNCHERS)}, not {text!r}")
    return text


def _attempts(variable: str, default: int) -> int:
    value = count(variable, default, most=100)
    if value < 1:
        raise SettingError(f"{variable} must be at least 1, not {os.environ[variable]!r}")
    return value


#: How each knob of :class:`CatchmentConfig` is read, given the field's default.
_KNOBS: dict[str, Callable[[Any], Any]] = {
    "duck_silence": lambda default: seconds("DUCKSTRING_DUCK_SILENCE", default),
    "duck_stall": lambda default: seconds("DUCKSTRING_DUCK_STALL", default),
    "duck_heartbeat": lambda default: seconds("DUCKSTRING_DUCK_HEARTBEAT", default),
    "duck_orphan": lambda default: seconds("DUCKSTRING_DUCK_ORPHAN", default),
    "duck_prestart": lambda default: count("DUCKSTRING_DUCK_PRESTART", default),
    "duck_spares": lambda default: count("DUCKSTRING_DUCK_SPARES", default, most=16),
    "duck_linger": lambda default: seconds("DUCKSTRING_DUCK_LINGER", default, zero=True),
    "duck_linger_max": lambda default: count("DUCKSTRING_DUCK_LINGER_MAX", default),
    "duck_linger_bytes": lambda default: count("DUCKSTRING_DUCK_LINGER_MIB", default >> 20) << 20,
    "duck_niceness": lambda default: count("DUCKSTRING_DUCK_NICE", default, most=19),
    # A query's timer cannot wait longer than the platform's longest wait, and a query must
    # end: infinity and anything past that are refused, not left to fail every query.
    "query_timeout": lambda default: seconds(
        "DUCKSTRING_QUERY_TIMEOUT", default, most=math.floor(threading.TIMEOUT_MAX)
    ),
    "allow_local_git": lambda default: flag("DUCKSTRING_ALLOW_LOCAL_GIT"),
    # An attempt's timeout bounds how long one slow receiver holds the others' deliveries.
    "alert_timeout": lambda default: seconds("DUCKSTRING_ALERT_TIMEOUT", default, most=300),
    "alert_attempts": lambda default: _attempts("DUCKSTRING_ALERT_ATTEMPTS", default),
    "alert_backoff": lambda default: seconds("DUCKSTRING_ALERT_BACKOFF", default, most=3600),
    # Forecasts cost CPU (milliseconds each, off the event loop): a floor on how often.
    "alert_forecast_every": lambda default: seconds(
        "DUCKSTRING_ALERT_FORECAST_EVERY", default, most=3600
    ),
    "launcher": lambda default: launcher_choice("DUCKSTRING_LAUNCHER", default),
    "ray_address": lambda default: os.environ.get("DUCKSTRING_RAY_ADDRESS") or default,
}


def knobs_from_environment(**given: Any) -> dict[str, Any]:
    """Every knob of a Catchment's configuration (its Ducks, queries, git deploys), read from
    the environment and checked now; a knob in ``given`` is taken as given and not read.
    Raises :class:`SettingError` naming the first variable with a bad value."""
    defaults = CatchmentConfig(root=Path())
    return {
        name: given[name] if name in given else read(getattr(defaults, name))
        for name, read in _KNOBS.items()
    }


def config_from_environment() -> CatchmentConfig:
    """The Catchment the environment describes: ``DUCKSTRING_ROOT``, ``DUCKSTRING_API_KEY``,
    ``DUCKSTRING_CATCHMENT_URL`` and every knob."""
    return CatchmentConfig(
        root=Path(os.environ.get("DUCKSTRING_ROOT", "./.duckstring")),
        api_key=os.environ.get("DUCKSTRING_API_KEY") or None,
        url=os.environ.get("DUCKSTRING_CATCHMENT_URL") or None,
        **knobs_from_environment(),
    )
