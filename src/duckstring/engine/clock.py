"""Time as the engine sees it: integer microseconds since the Unix epoch, UTC.

The engine never reads the wall clock; hosts pass ``now`` in. This module is the one place
that converts between engine time and ``datetime``, and it holds the project's one clock
abstraction (a system clock for servers, a virtual one for simulations and tests).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

Micros = int

#: Freshness of a node that never ran. It sorts below every real timestamp.
NEVER: Micros = -(1 << 62)

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
SECOND: Micros = 1_000_000
MINUTE: Micros = 60 * SECOND
HOUR: Micros = 60 * MINUTE
DAY: Micros = 24 * HOUR
WEEK: Micros = 7 * DAY
#: The longest span a user may set (a Tide's bound, a window's interval or duration): far
#: beyond any use, and short enough that the instants the engine derives from it still fit the
#: 64-bit integers of its database.
LONGEST_SPAN: Micros = 1000 * 366 * DAY


def to_micros(moment: datetime) -> Micros:
    """Engine time of an aware ``datetime`` (naive values are taken as UTC)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    delta = moment - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * SECOND + delta.microseconds


def from_micros(value: Micros) -> datetime:
    """The aware UTC ``datetime`` of an engine time."""
    return _EPOCH + timedelta(microseconds=value)


def iso(value: Micros | None) -> str | None:
    """ISO-8601 UTC text of an engine time; ``None`` for ``NEVER``/``None``."""
    if value is None or value == NEVER:
        return None
    return from_micros(value).isoformat().replace("+00:00", "Z")


def parse_instant(text: str) -> Micros:
    """Parse an ISO-8601 instant; a value without an offset is taken as UTC."""
    cleaned = text.strip()
    if cleaned.endswith(("Z", "z")):
        cleaned = cleaned[:-1] + "+00:00"
    try:
        moment = datetime.fromisoformat(cleaned)
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        # An offset can carry a moment past year 1 or 9999 in UTC, where ``iso`` cannot go.
        moment.astimezone(UTC)
    except (ValueError, OverflowError):
        raise ValueError(f"not an ISO-8601 instant: {text!r}") from None
    return to_micros(moment)


class SystemClock:
    """The real clock, for servers and workers."""

    def now(self) -> Micros:
        return to_micros(datetime.now(UTC))


class VirtualClock:
    """A clock that only moves when told to, for simulations and tests."""

    def __init__(self, start: Micros) -> None:
        self._now = start

    def now(self) -> Micros:
        return self._now

    def set(self, moment: Micros) -> None:
        if moment < self._now:
            raise ValueError("a virtual clock never goes backwards")
        self._now = moment

    def advance(self, delta: Micros) -> Micros:
        self.set(self._now + delta)
        return self._now
