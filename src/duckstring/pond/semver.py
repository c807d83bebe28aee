"""The project's one SemVer type (Semantic Versioning 2.0.0).

A Pond's version picks its major line; a Source requirement names a major and a minimum version.
Both are parsed here and nowhere else.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import total_ordering

_NUMBER = r"0|[1-9]\d*"
_IDENT = r"[0-9A-Za-z-]+"
_PATTERN = re.compile(
    rf"(?P<major>{_NUMBER})\.(?P<minor>{_NUMBER})\.(?P<patch>{_NUMBER})"
    rf"(?:-(?P<pre>{_IDENT}(?:\.{_IDENT})*))?"
    rf"(?:\+(?P<build>{_IDENT}(?:\.{_IDENT})*))?"
)


class SemVerError(ValueError):
    """Text that is not a SemVer version, with a message fit to show a user."""


@total_ordering
@dataclass(frozen=True, eq=False)
class SemVer:
    """A parsed ``MAJOR.MINOR.PATCH[-PRERELEASE][+BUILD]`` version.

    Ordering and equality follow SemVer precedence: build metadata is ignored and a pre-release
    sorts before its release (``1.0.0-rc.1 < 1.0.0``).
    """

    major: int
    minor: int
    patch: int
    prerelease: tuple[str, ...] = ()
    build: tuple[str, ...] = ()

    @classmethod
    def parse(cls, text: str) -> SemVer:
        """Parse a version such as ``1.4.2`` or ``2.0.0-rc.1+build.7``."""
        if not isinstance(text, str):
            raise SemVerError(f"a version must be text like 1.2.3, not {type(text).__name__}")
        match = _PATTERN.fullmatch(text.strip())
        if match is None:
            raise SemVerError(
                f"{text!r} is not a SemVer version: write MAJOR.MINOR.PATCH, e.g. 1.2.3 "
                "(no leading zeros, optional -prerelease and +build)"
            )
        prerelease = tuple(match.group("pre").split(".")) if match.group("pre") else ()
        for part in prerelease:
            if part.isdigit() and len(part) > 1 and part.startswith("0"):
                raise SemVerError(
                    f"{text!r} is not a SemVer version: numeric pre-release part {part!r} "
                    "has a leading zero"
                )
        build = tuple(match.group("build").split(".")) if match.group("build") else ()
        return cls(
            int(match.group("major")),
            int(match.group("minor")),
            int(match.group("patch")),
            prerelease,
            build,
        )

    def _precedence(self) -> tuple[int, int, int, int, tuple[tuple[int, int, str], ...]]:
        # A release (no pre-release) outranks every pre-release of the same core version;
        # numeric identifiers sort numerically and below alphanumeric ones.
        pre = tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in self.prerelease)
        return (self.major, self.minor, self.patch, 0 if self.prerelease else 1, pre)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, SemVer):
            return NotImplemented
        return self._precedence() == other._precedence()

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, SemVer):
            return NotImplemented
        return self._precedence() < other._precedence()

    def __hash__(self) -> int:
        return hash(self._precedence())

    def __str__(self) -> str:
        text = f"{self.major}.{self.minor}.{self.patch}"
        if self.prerelease:
            text += "-" + ".".join(self.prerelease)
        if self.build:
            text += "+" + ".".join(self.build)
        return text

    def __repr__(self) -> str:
        return f"SemVer('{self}')"
