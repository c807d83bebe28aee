"""The one duration parser of the project.

Durations are written as one or more ``<count><unit>`` parts with units ``s``, ``m``, ``h``,
``d`` and ``w`` (``10s``, ``90m``, ``1d``, ``1w``, ``1h30m``). A recurrence interval must be
a single part; everywhere else compound durations are allowed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from duckstring.engine.clock import DAY, HOUR, MINUTE, SECOND, WEEK, Micros

UNITS: dict[str, Micros] = {"s": SECOND, "m": MINUTE, "h": HOUR, "d": DAY, "w": WEEK}
#: Names of the units as the HTTP API spells them (``freq_unit``).
UNIT_NAMES: dict[str, str] = {
    "s": "SECOND",
    "m": "MINUTE",
    "h": "HOUR",
    "d": "DAY",
    "w": "WEEK",
}
_ORDER = "wdhms"
_PART = re.compile(r"(\d+)([a-z])")


class DurationError(ValueError):
    """A duration that does not parse, with a message fit to show a user."""


@dataclass(frozen=True)
class Interval:
    """A single-unit recurrence interval such as ``12h``."""

    count: int
    unit: str

    @property
    def micros(self) -> Micros:
        return self.count * UNITS[self.unit]

    @property
    def unit_name(self) -> str:
        return UNIT_NAMES[self.unit]

    def __str__(self) -> str:
        return f"{self.count}{self.unit}"


def _parts(text: str) -> list[tuple[int, str]]:
    cleaned = text.strip().lower()
    hint = "use a count and a unit, e.g. 10s, 90m, 12h, 1d, 1w or 1h30m"
    if not cleaned:
        raise DurationError(f"empty duration: {hint}")
    parts: list[tuple[int, str]] = []
    position = 0
    for match in _PART.finditer(cleaned):
        if match.start() != position:
            break
        count, unit = int(match.group(1)), match.group(2)
        if unit not in UNITS:
            raise DurationError(f"unknown unit {unit!r} in duration {text!r}: {hint}")
        parts.append((count, unit))
        position = match.end()
    if position != len(cleaned) or not parts:
        raise DurationError(f"bad duration {text!r}: {hint}")
    units = [unit for _, unit in parts]
    if len(set(units)) != len(units):
        raise DurationError(f"bad duration {text!r}: each unit may appear once")
    if [_ORDER.index(u) for u in units] != sorted(_ORDER.index(u) for u in units):
        raise DurationError(f"bad duration {text!r}: write units from largest to smallest")
    return parts


def parse_duration(text: str) -> Micros:
    """Parse a duration (compound allowed) into microseconds; it must be positive."""
    total = sum(count * UNITS[unit] for count, unit in _parts(text))
    if total <= 0:
        raise DurationError(f"bad duration {text!r}: it must be longer than zero")
    return total


def parse_interval(text: str) -> Interval:
    """Parse a single-unit recurrence interval (``10s``, ``12h``, ``1d``, ``1w``)."""
    parts = _parts(text)
    if len(parts) != 1:
        raise DurationError(
            f"bad interval {text!r}: an interval has a single unit, e.g. 90m rather than 1h30m"
        )
    count, unit = parts[0]
    if count <= 0:
        raise DurationError(f"bad interval {text!r}: it must be longer than zero")
    return Interval(count, unit)


def interval_of(count: int, unit_name: str) -> Interval:
    """The interval of an API ``freq_interval`` and ``freq_unit`` (``SECOND`` … ``WEEK``)."""
    for unit, name in UNIT_NAMES.items():
        if name == unit_name.upper():
            if count <= 0:
                raise DurationError("an interval must be longer than zero")
            return Interval(count, unit)
    raise DurationError(
        f"unknown frequency unit {unit_name!r}: use one of {', '.join(UNIT_NAMES.values())}"
    )


def format_duration(value: Micros) -> str:
    """Compact text of a duration, largest units first (``1h30m``, ``250ms`` below a second)."""
    if value < 0:
        return "-" + format_duration(-value)
    if value < SECOND:
        return f"{value // 1000}ms" if value >= 1000 else f"{value}us"
    seconds, rest = divmod(value, SECOND)
    out = []
    remaining = seconds * SECOND
    for unit in _ORDER:
        size = UNITS[unit]
        if remaining >= size:
            count, remaining = divmod(remaining, size)
            out.append(f"{count}{unit}")
    text = "".join(out)
    if rest and seconds < 60:
        text = f"{seconds + rest / SECOND:.1f}s".replace(".0s", "s")
    return text
