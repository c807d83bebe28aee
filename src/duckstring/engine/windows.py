"""Windows: when an Inlet may start, and until when what it ingests counts as fresh.

A window rule recurs at a fixed interval from an anchor: occurrence ``k`` (``k >= 0``) begins at
``start + k * every`` and is open on ``[begin, begin + duration)``. An occurrence is kept when its
begin falls on an allowed weekday (UTC) and strictly before ``until``. Every interval has a fixed
length (no months), so occurrences are plain integer arithmetic on engine time.

The rules of one Pond never overlap, so at any instant at most one window is open.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TypeVar

from duckstring.engine.clock import (
    DAY,
    HOUR,
    LONGEST_SPAN,
    MINUTE,
    SECOND,
    WEEK,
    Micros,
    iso,
    parse_instant,
)
from duckstring.engine.durations import (
    UNITS,
    DurationError,
    Interval,
    format_duration,
    interval_of,
    parse_duration,
    parse_interval,
)

WEEKDAY_NAMES: tuple[str, ...] = ("MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN")
_T = TypeVar("_T")
_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")
_CLOCK_TIME = re.compile(r"(\d{1,2}):(\d{2})(?::(\d{2}))?")
#: 1970-01-01, day 0 of engine time, was a Thursday.
_EPOCH_WEEKDAY = 3
#: Upper bound on the steps of one pairwise overlap check (about a second of CPython). Rules
#: whose joint pattern needs more are rejected as unverifiable rather than accepted on a guess.
MAX_OVERLAP_STEPS = 600_000
_LONGEST_TEXT = f"{LONGEST_SPAN // SECOND} seconds (about 1000 years)"


class WindowError(ValueError):
    """A window rule that is invalid, with a message fit to show a user."""


class WindowOverlapError(WindowError):
    """A window rule whose occurrences would intersect another's (or its own)."""

    def __init__(
        self,
        message: str,
        names: tuple[str, str],
        first: tuple[Window, Window] | None = None,
    ) -> None:
        super().__init__(message)
        #: The new rule's name, then the other's (the same name twice for a self-overlap).
        self.names = names
        #: The earliest intersecting occurrences, in the order of ``names``, when known.
        self.first = first


class DuplicateWindowError(WindowError):
    """A window rule whose name the Pond already uses."""


def weekday_of(moment: Micros) -> int:
    """UTC weekday of an engine time: 0 is Monday, 6 is Sunday."""
    return (moment // DAY + _EPOCH_WEEKDAY) % 7


def _ceil_div(numerator: int, denominator: int) -> int:
    return -(-numerator // denominator)


@dataclass(frozen=True)
class Window:
    """One open occurrence of a rule: ``[begin, end)``."""

    rule: str
    begin: Micros
    end: Micros

    @property
    def length(self) -> Micros:
        return self.end - self.begin


@dataclass(frozen=True, init=False)
class WindowRule:
    """A named recurrence of windows; see the module docstring for its meaning."""

    name: str
    start: Micros
    every: Interval
    duration: Micros
    weekdays: frozenset[int] | None
    until: Micros | None

    def __init__(
        self,
        name: str,
        start: Micros,
        every: Interval,
        duration: Micros | None = None,
        weekdays: Iterable[int] | None = None,
        until: Micros | None = None,
    ) -> None:
        _check_name(name)
        if not isinstance(every, Interval) or every.unit not in UNITS or every.count <= 0:
            raise WindowError(f"window {name!r}: the interval must be a positive single unit")
        if every.micros > LONGEST_SPAN:
            raise WindowError(f"window {name!r}: the interval must be at most {_LONGEST_TEXT}")
        length = every.micros if duration is None else duration
        if length <= 0:
            raise WindowError(f"window {name!r}: the duration must be longer than zero")
        days = None if weekdays is None else frozenset(weekdays)
        if days is not None:
            if not days:
                raise WindowError(f"window {name!r}: the weekday filter names no day")
            if not days <= frozenset(range(7)):
                raise WindowError(f"window {name!r}: weekdays are numbered 0 (MON) to 6 (SUN)")
        if until is not None and until <= start:
            raise WindowError(
                f"window {name!r}: until ({_moment(until)}) must come after "
                f"start ({_moment(start)})"
            )
        object.__setattr__(self, "name", name)
        object.__setattr__(self, "start", start)
        object.__setattr__(self, "every", every)
        object.__setattr__(self, "duration", length)
        object.__setattr__(self, "weekdays", days)
        object.__setattr__(self, "until", until)
        _check_self(self)
        reachable = self._reachable_weekdays()
        if days is not None and not days & reachable:
            raise WindowError(
                f"window {name!r} never opens: every {every} from {_moment(start)} only begins on "
                f"{_day_list(reachable)}, which the weekday filter excludes"
            )

    # --- construction from user text, the HTTP API and storage -----------------------------

    @classmethod
    def from_text(
        cls,
        name: str,
        *,
        every: str,
        start: str | None = None,
        duration: str | None = None,
        on: str | None = None,
        until: str | None = None,
        today: Micros,
    ) -> WindowRule:
        """A rule from CLI-style text.

        ``start`` is ``HH:MM`` (UTC, on the day of ``today``), an ISO-8601 instant, or ``None`` for
        00:00 UTC of that day. ``duration`` may be compound (``1h30m``); ``on`` is a comma list
        of three-letter weekday names (``MON,WED,FRI``, any case); ``until`` is ISO-8601.
        """
        try:
            interval = parse_interval(every)
            length = None if duration is None else parse_duration(duration)
        except DurationError as exc:
            raise WindowError(f"window {name!r}: {exc}") from None
        day = today - today % DAY
        anchor = day if start is None else _parse_start(name, start, day)
        days = None if on is None else parse_weekdays(on)
        end = None if until is None else _parse_instant(name, "until", until)
        return cls(name, anchor, interval, length, days, end)

    def to_api(self) -> dict[str, object]:
        """The rule as the HTTP API spells it: instants in UTC (``Z``), days as one string."""
        seconds, rest = divmod(self.duration, SECOND)
        return {
            "name": self.name,
            "start_anchor": iso(self.start),
            "duration_seconds": seconds if rest == 0 else self.duration / SECOND,
            "freq_unit": self.every.unit_name,
            "freq_interval": self.every.count,
            "valid_days": None if self.weekdays is None else _day_list(self.weekdays),
            "until_time": iso(self.until),
        }

    @classmethod
    def from_api(cls, data: Mapping[str, object], *, today: Micros | None = None) -> WindowRule:
        """A rule from its HTTP API form; every error names the field it is about.

        ``freq_interval`` defaults to 1 and ``duration_seconds`` to the interval; ``valid_days``
        (a string ``"MON,WED"`` or a list of day names, any case) and ``until_time`` may be
        missing or null. ``start_anchor`` may be missing or null when ``today`` is given: 00:00
        UTC of that day.
        """
        name = _check_name(_field(data, "name", str))
        raw_start = data.get("start_anchor")
        if raw_start is None and today is not None:
            start = today - today % DAY
        else:
            start = _parse_instant(name, "start_anchor", _field(data, "start_anchor", str))
        interval = _api_interval(name, data)
        length = _api_duration(name, data.get("duration_seconds"))
        days = _api_days(name, data.get("valid_days"))
        raw_until = data.get("until_time")
        until = None
        if raw_until is not None:
            if not isinstance(raw_until, str):
                raise WindowError(f"window {name!r}: until_time must be an ISO-8601 string")
            until = _parse_instant(name, "until_time", raw_until)
            if until <= start:
                raise WindowError(
                    f"window {name!r}: until_time ({_moment(until)}) must come after "
                    f"start_anchor ({_moment(start)})"
                )
        return cls(name, start, interval, length, days, until)

    def to_row(self) -> dict[str, str | int | None]:
        """A flat, lossless record for storage."""
        return {
            "name": self.name,
            "start_us": self.start,
            "every": str(self.every),
            "duration_us": self.duration,
            "weekdays": None if self.weekdays is None else ",".join(_day_names(self.weekdays)),
            "until_us": self.until,
        }

    @classmethod
    def from_row(cls, row: Mapping[str, object]) -> WindowRule:
        """The rule of a record written by :meth:`to_row`."""
        name = _field(row, "name", str)
        weekdays = row.get("weekdays")
        until = row.get("until_us")
        if weekdays is not None and not isinstance(weekdays, str):
            raise WindowError(f"stored window {name!r}: weekdays must be text")
        if until is not None and (isinstance(until, bool) or not isinstance(until, int)):
            raise WindowError(f"stored window {name!r}: until_us must be an integer")
        try:
            every = parse_interval(_field(row, "every", str))
        except DurationError as exc:
            raise WindowError(f"stored window {name!r}: {exc}") from None
        return cls(
            name,
            _field(row, "start_us", int),
            every,
            _field(row, "duration_us", int),
            None if weekdays is None else parse_weekdays(weekdays),
            until,
        )

    def describe(self) -> str:
        """One line for listings: ``every 1d from … for 3h on MON,WED until …``."""
        text = f"every {self.every} from {_moment(self.start)} for {format_duration(self.duration)}"
        if self.weekdays is not None:
            text += f" on {','.join(_day_names(self.weekdays))}"
        if self.until is not None:
            text += f" until {_moment(self.until)}"
        return text

    # --- occurrences -------------------------------------------------------------------------

    def occurrence_at(self, moment: Micros) -> tuple[Micros, Micros] | None:
        """The occurrence ``(begin, end)`` open at ``moment``, if any. O(1)."""
        # duration <= every, so only the latest occurrence begun by ``moment`` can hold it.
        k = (moment - self.start) // self.every.micros
        if k < 0:
            return None
        begin = self.start + k * self.every.micros
        if moment >= begin + self.duration or not self._kept(begin):
            return None
        return begin, begin + self.duration

    def next_open_after(self, moment: Micros) -> Micros | None:
        """Begin of the first occurrence strictly after ``moment``; ``None`` if none comes."""
        return self._first_begin_from(moment + 1)

    def next_boundary_after(self, moment: Micros) -> Micros | None:
        """The first instant strictly after ``moment`` at which an occurrence opens or closes."""
        current = self.occurrence_at(moment)
        # duration <= every: the open occurrence closes no later than the next one opens.
        return self.next_open_after(moment) if current is None else current[1]

    @property
    def _filtered(self) -> bool:
        return self.weekdays is not None and len(self.weekdays) < 7

    def _kept(self, begin: Micros) -> bool:
        if self.until is not None and begin >= self.until:
            return False
        return self.weekdays is None or weekday_of(begin) in self.weekdays

    def _reachable_weekdays(self) -> frozenset[int]:
        # Begins taken modulo a week form the lattice start + j*step; a step of a day or less
        # puts a begin on every weekday.
        step = math.gcd(self.every.micros, WEEK)
        if step <= DAY:
            return frozenset(range(7))
        return frozenset(weekday_of(self.start + j * step) for j in range(WEEK // step))

    def _first_begin_from(self, earliest: Micros, limit: Micros | None = None) -> Micros | None:
        """The first kept begin at or after ``earliest`` and before ``limit``.

        With a weekday filter, a disallowed day is skipped in one step; the weekday pattern of
        begins repeats every ``lcm(every, 1w)``, so a search that finds nothing in one such
        period never will.
        """
        every = self.every.micros
        if self.until is not None:
            limit = self.until if limit is None else min(limit, self.until)
        k = max(0, _ceil_div(earliest - self.start, every))
        begin = self.start + k * every
        if not self._filtered:
            return begin if limit is None or begin < limit else None
        assert self.weekdays is not None
        horizon = begin + math.lcm(every, WEEK)
        while (limit is None or begin < limit) and begin < horizon:
            if weekday_of(begin) in self.weekdays:
                return begin
            next_day = (begin // DAY + 1) * DAY
            begin = self.start + _ceil_div(next_day - self.start, every) * every
        return None

    def _search_cost(self, span: Micros) -> int:
        """Upper bound on the loop steps of one ``_first_begin_from`` over ``span``."""
        if not self._filtered:
            return 1
        return min(span // self.every.micros, span // DAY) + 2


# --- the windows of one Pond --------------------------------------------------------------------


def open_window(rules: Iterable[WindowRule], moment: Micros) -> Window | None:
    """The window open at ``moment``; rules of a Pond never overlap, so there is at most one."""
    found = [
        Window(rule.name, *occurrence)
        for rule in rules
        if (occurrence := rule.occurrence_at(moment)) is not None
    ]
    return min(found, key=lambda window: (window.begin, window.rule), default=None)


def next_open_after(rules: Iterable[WindowRule], moment: Micros) -> Micros | None:
    """The first instant strictly after ``moment`` at which any of ``rules`` opens."""
    return _earliest(rule.next_open_after(moment) for rule in rules)


def next_boundary_after(rules: Iterable[WindowRule], moment: Micros) -> Micros | None:
    """The first instant strictly after ``moment`` at which any window opens or closes."""
    return _earliest(rule.next_boundary_after(moment) for rule in rules)


def check_no_overlap(rules: Sequence[WindowRule], new_rule: WindowRule) -> None:
    """Reject ``new_rule`` if its name is taken or any occurrence of it would intersect an
    occurrence of one of ``rules`` (or of itself). Windows are half-open: touching is fine.

    The check is exact. A pair of rules whose joint pattern (``lcm`` of both intervals, and of a
    week when a weekday filter is involved) is too long to walk within ``MAX_OVERLAP_STEPS`` is
    rejected unless the intervals alone rule out any intersection.
    """
    _check_self(new_rule)
    for rule in rules:
        if rule.name == new_rule.name:
            raise DuplicateWindowError(
                f"this Pond already has a window named {new_rule.name!r}; remove it first or "
                "choose another name"
            )
    for rule in rules:
        pair = _first_overlap(new_rule, rule)
        if pair is None:
            continue
        new_begin, old_begin = pair
        raise WindowOverlapError(
            f"window {new_rule.name!r} overlaps window {rule.name!r}: {new_rule.name!r} would be "
            f"open {_span(new_begin, new_rule.duration)} while {rule.name!r} is open "
            f"{_span(old_begin, rule.duration)}",
            (new_rule.name, rule.name),
            (
                Window(new_rule.name, new_begin, new_begin + new_rule.duration),
                Window(rule.name, old_begin, old_begin + rule.duration),
            ),
        )


def parse_weekdays(text: str) -> frozenset[int]:
    """Weekday numbers of a comma list of three-letter names such as ``MON,wed,Fri``."""
    days = set()
    for part in text.split(","):
        token = part.strip().upper()
        if token not in WEEKDAY_NAMES:
            raise WindowError(
                f"unknown weekday {part.strip()!r} in {text!r}: use {', '.join(WEEKDAY_NAMES)}"
            )
        days.add(WEEKDAY_NAMES.index(token))
    return frozenset(days)


# --- internals --------------------------------------------------------------------------------


def _check_self(rule: WindowRule) -> None:
    if rule.duration > rule.every.micros:
        raise WindowOverlapError(
            f"window {rule.name!r} overlaps itself: it stays open "
            f"{format_duration(rule.duration)} but recurs every {rule.every}; the duration must "
            "not exceed the interval",
            (rule.name, rule.name),
        )


def _first_overlap(a: WindowRule, b: WindowRule) -> tuple[Micros, Micros] | None:
    """Begins ``(of a, of b)`` of the earliest intersecting pair of occurrences, or ``None``."""
    if not _residues_allow_overlap(a, b) or not _touched_days(a) & _touched_days(b):
        return None
    coarse, fine = (a, b) if a.every.micros >= b.every.micros else (b, a)
    period = math.lcm(a.every.micros, b.every.micros)
    if a._filtered or b._filtered:
        period = math.lcm(period, WEEK)
    # Shifting an intersecting pair back by ``period`` keeps it intersecting while both begins
    # stay at or after their anchors, so the earliest pair has one begin before
    # max(anchors) + period, and the coarse begin before that plus one interval.
    lower = max(coarse.start, fine.start - coarse.duration + 1)
    upper = max(a.start, b.start) + period + coarse.every.micros
    if coarse.until is not None:
        upper = min(upper, coarse.until)
    if fine.until is not None:
        upper = min(upper, fine.until + fine.duration)
    # Each coarse occurrence costs one step plus one search among the fine ones.
    per_step = 2 + fine._search_cost(coarse.duration + fine.duration)
    reach = lower + (MAX_OVERLAP_STEPS // per_step) * coarse.every.micros
    begin = coarse._first_begin_from(lower, min(upper, reach))
    while begin is not None:
        partner = fine._first_begin_from(begin - fine.duration + 1, begin + coarse.duration)
        if partner is not None:
            return (begin, partner) if coarse is a else (partner, begin)
        begin = coarse._first_begin_from(begin + 1, min(upper, reach))
    if reach < upper:
        raise WindowOverlapError(
            f"cannot verify that window {a.name!r} never overlaps window {b.name!r}: together "
            f"they only repeat every {format_duration(period)}; choose intervals that divide one "
            "another (such as 15m, 1h, 1d, 1w)",
            (a.name, b.name),
        )
    return None


def _residues_allow_overlap(a: WindowRule, b: WindowRule) -> bool:
    """Whether any begin difference ``b - a`` can fall in ``(-b.duration, a.duration)``.

    Every difference is congruent to ``b.start - a.start`` modulo ``gcd`` of the intervals;
    ignoring filters and ``until`` this is exact, with them it can only over-report.
    """
    step = math.gcd(a.every.micros, b.every.micros)
    lowest = 1 - b.duration
    smallest = lowest + (b.start - a.start - lowest) % step
    return smallest < a.duration


def _touched_days(rule: WindowRule) -> frozenset[int]:
    """Weekdays on which some occurrence of ``rule`` may be open (a superset)."""
    if rule.weekdays is None:
        return frozenset(range(7))
    spread = (DAY + rule.duration - 2) // DAY
    begins = rule.weekdays & rule._reachable_weekdays()
    return frozenset((day + extra) % 7 for day in begins for extra in range(min(spread, 6) + 1))


def _check_name(name: object) -> str:
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise WindowError(f"bad window name {name!r}: use 1 to 64 letters, digits, '_' or '-'")
    return name


def _api_interval(name: str, data: Mapping[str, object]) -> Interval:
    count = data.get("freq_interval", 1)
    if not isinstance(count, int) or isinstance(count, bool) or count <= 0:
        raise WindowError(f"window {name!r}: freq_interval must be a whole number above 0")
    unit = data.get("freq_unit")
    if not isinstance(unit, str):
        raise WindowError(f"window {name!r}: freq_unit is missing or not text")
    try:
        interval = interval_of(count, unit)
    except DurationError as exc:
        raise WindowError(f"window {name!r}: bad freq_unit: {exc}") from None
    if interval.micros > LONGEST_SPAN:
        raise WindowError(
            f"window {name!r}: freq_interval {count} × {interval.unit_name} is longer than "
            f"{_LONGEST_TEXT}"
        )
    return interval


def _api_duration(name: str, value: object) -> Micros | None:
    if value is None:
        return None
    wrong = f"window {name!r}: duration_seconds must be a number of seconds above 0"
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise WindowError(wrong)
    micros = value * SECOND
    if not math.isfinite(micros) or round(micros) <= 0:
        raise WindowError(wrong)
    if micros > LONGEST_SPAN:
        raise WindowError(f"window {name!r}: duration_seconds must be at most {_LONGEST_TEXT}")
    return round(micros)


def _api_days(name: str, value: object) -> frozenset[int] | None:
    """The weekday filter of ``valid_days``: ``"MON,WED"`` or ``["mon", "wed"]``."""
    if value is None:
        return None
    if isinstance(value, list) and all(isinstance(day, str) for day in value):
        text = ",".join(value)
    elif isinstance(value, str):
        text = value
    else:
        raise WindowError(
            f"window {name!r}: valid_days must be a string like 'MON,WED,FRI' or a list of "
            "day names"
        )
    if not text.strip():
        raise WindowError(
            f"window {name!r}: valid_days names no day; leave it out (or null) for every day"
        )
    try:
        return parse_weekdays(text)
    except WindowError as exc:
        raise WindowError(f"window {name!r}: bad valid_days: {exc}") from None


def _parse_start(name: str, text: str, day: Micros) -> Micros:
    match = _CLOCK_TIME.fullmatch(text.strip())
    if match is None:
        return _parse_instant(name, "start", text)
    hours, minutes, seconds = int(match[1]), int(match[2]), int(match[3] or 0)
    if hours > 23 or minutes > 59 or seconds > 59:
        raise WindowError(
            f"window {name!r}: bad start time {text!r}: use HH:MM from 00:00 to 23:59"
        )
    return day + hours * HOUR + minutes * MINUTE + seconds * SECOND


def _parse_instant(name: str, what: str, text: str) -> Micros:
    try:
        return parse_instant(text)
    except ValueError:
        forms = "HH:MM (UTC) or an ISO-8601 instant" if what == "start" else "an ISO-8601 instant"
        raise WindowError(
            f"window {name!r}: bad {what} {text!r}: use {forms} such as 2024-05-01T02:00:00Z"
        ) from None


def _field(data: Mapping[str, object], key: str, kind: type[_T]) -> _T:
    value = data.get(key)
    if not isinstance(value, kind) or isinstance(value, bool):
        raise WindowError(f"window field {key!r} is missing or not a {kind.__name__}")
    return value


def _day_names(days: Iterable[int]) -> list[str]:
    return [WEEKDAY_NAMES[day] for day in sorted(days)]


def _day_list(days: Iterable[int]) -> str:
    return ",".join(_day_names(days))


def _span(begin: Micros, duration: Micros) -> str:
    return f"{_moment(begin)} to {_moment(begin + duration)}"


def _moment(value: Micros) -> str:
    try:
        return str(iso(value))
    except OverflowError:
        return f"{value} µs after the Unix epoch"


def _earliest(moments: Iterable[Micros | None]) -> Micros | None:
    return min((moment for moment in moments if moment is not None), default=None)
