"""Alert rules: what an operator asks to be told, about which lines, and where to.

A rule is checked whole before it is stored: its kind, the staleness bound of a ``stale``
rule (and the optional one of a ``forecast-breach`` rule, which otherwise holds each line to
its Tide's bound), the Pond names it watches and its Apprise URL (Apprise itself says whether
it knows the URL). A problem is a :class:`RuleError` naming the field.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

import apprise

from duckstring.engine.clock import LONGEST_SPAN, Micros
from duckstring.engine.durations import DurationError, format_duration, parse_duration
from duckstring.pond.names import MAX_NAME_LENGTH, pond_name_problem

FAILURE, RECOVERY, STALE, FORECAST_BREACH = "failure", "recovery", "stale", "forecast-breach"
KINDS: Final = (FAILURE, RECOVERY, STALE, FORECAST_BREACH)
#: What an Apprise URL may hold at most (a long webhook with its token fits many times over).
MAX_URL_LENGTH: Final = 2048


class RuleError(ValueError):
    """A rule that cannot be stored; ``field`` names the part that is wrong."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


@dataclass(frozen=True)
class AlertRule:
    """One operator-owned rule. ``ponds`` empty: every line."""

    name: str
    on: str
    url: str
    ponds: tuple[str, ...] = ()
    #: A ``stale`` rule's bound on staleness; a ``forecast-breach`` rule's, if it has one
    #: (without it the rule holds each line with a Tide to the Tide's bound).
    bound: Micros | None = None
    created_at: Micros = 0

    def watches(self, line: str) -> bool:
        """Whether ``line`` (``name@major``) is one this rule is about."""
        if not self.ponds:
            return True
        name = line.partition("@")[0]
        return line in self.ponds or name in self.ponds

    @property
    def describe_on(self) -> str:
        if self.on in (STALE, FORECAST_BREACH) and self.bound is not None:
            return f"{self.on} {format_duration(self.bound)}"
        return self.on


_NAME = re.compile(r"[a-z][a-z0-9_-]*")


def check_name(name: str) -> str:
    """An alert's name: the alphabet of a Pond's, since it goes into URLs too."""
    if not name or len(name) > MAX_NAME_LENGTH or not _NAME.fullmatch(name):
        raise RuleError(
            "name",
            f"{name!r} is not an alert name: use up to {MAX_NAME_LENGTH} lowercase letters, "
            "digits, '_' and '-', starting with a letter",
        )
    return name


def check_pond(selector: str) -> str:
    """A Pond name (every major) or one line (``name@major``)."""
    name, at, major = selector.partition("@")
    problem = pond_name_problem(name)
    if problem is None and at and not (major.isdigit() and len(major) <= 9):
        problem = f"{selector!r} is not a Pond name or a line such as sales@1"
    if problem is not None:
        raise RuleError("ponds", problem)
    return selector


def check_url(url: str) -> apprise.plugins.NotifyBase:
    """The Apprise service of ``url``; :class:`RuleError` when Apprise does not accept it."""
    if not url.strip():
        raise RuleError("to", "give the Apprise URL to deliver to, e.g. json://host/path")
    if len(url) > MAX_URL_LENGTH:
        raise RuleError("to", f"the URL is longer than {MAX_URL_LENGTH} characters")
    try:
        service = apprise.Apprise.instantiate(url.strip())
    except Exception:  # a plugin refusing what it parsed: as unknown as any other
        service = None
    if service is None:
        raise RuleError(
            "to",
            f"Apprise does not accept {url.strip()[:80]!r}: see "
            "https://github.com/caronc/apprise/wiki for the URL of each service",
        )
    return service


def masked(url: str) -> str:
    """``url`` with its secrets (tokens, passwords) hidden, as Apprise prints it."""
    service = apprise.Apprise.instantiate(url)
    return url if service is None else str(service.url(privacy=True))  # type: ignore[no-untyped-call]


def make_rule(
    name: str,
    on: str,
    url: str,
    ponds: list[str] | tuple[str, ...] = (),
    duration: str | None = None,
    created_at: Micros = 0,
) -> AlertRule:
    """A checked rule; :class:`RuleError` naming the first field that is wrong."""
    check_name(name)
    if on not in KINDS:
        raise RuleError("on", f"unknown kind {on!r}: use one of {', '.join(KINDS)}")
    bound = None
    if on == STALE and not duration:
        raise RuleError("duration", "a stale rule needs its bound, e.g. stale 1h")
    if on in (STALE, FORECAST_BREACH) and duration:
        try:
            bound = parse_duration(duration)
        except DurationError as error:
            raise RuleError("duration", str(error)) from None
        if bound > LONGEST_SPAN:
            raise RuleError("duration", f"{duration!r} is longer than about 1000 years")
    elif duration:
        raise RuleError(
            "duration", f"only a stale or forecast-breach rule has a duration, not a {on} rule"
        )
    selectors = tuple(dict.fromkeys(check_pond(p) for p in ponds))
    check_url(url)
    return AlertRule(name, on, url.strip(), selectors, bound, created_at)
