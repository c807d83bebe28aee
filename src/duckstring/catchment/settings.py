"""Settings a Catchment reads from the environment, however it is started (the ASGI entry, or
``duckstring catchment init/start`` and ``duckstring demo``). A bad value stops the start with
one line naming the variable."""

from __future__ import annotations

import math
import os
import threading


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


def query_timeout() -> float:
    """``DUCKSTRING_QUERY_TIMEOUT``: seconds a query over published tables may run (30).

    A query's timer cannot wait longer than the platform's longest wait, and a query must
    end: infinity and anything past that are refused, not left to fail every query.
    """
    return seconds("DUCKSTRING_QUERY_TIMEOUT", 30.0, most=math.floor(threading.TIMEOUT_MAX))
