"""The printed report of the runtime benchmark: sections, figures next to their targets, and a
summary of every target at the end."""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass, field

PASS, FAIL = "✓", "✗"


def ms(value: float) -> str:
    return "n/a" if math.isnan(value) else f"{value * 1000:.1f} ms"


def sec(value: float) -> str:
    return "n/a" if math.isnan(value) else f"{value:.3f} s"


def ratio(value: float) -> str:
    return "n/a" if math.isnan(value) else f"{value:.3f}"


def mib(kib: float) -> str:
    return f"{kib / 1024:.1f} MiB"


@dataclass
class Target:
    section: str
    label: str
    value: str
    target: str
    ok: bool


@dataclass
class Report:
    targets: list[Target] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    _section: str = ""

    def section(self, title: str) -> None:
        self._section = title
        self._print(f"\n== {title} ==")

    def line(self, label: str, value: str = "") -> None:
        self._print(f"  {label:<58} {value}".rstrip())

    def note(self, text: str) -> None:
        self._print(f"  · {text}")

    def figure(self, label: str, value: str, target: str, ok: bool) -> None:
        """A figure with a target; NaN or missing data counts as a miss."""
        mark = PASS if ok else FAIL
        self._print(f"  {label:<58} {value:<14} target {target:<14} {mark}")
        self.targets.append(Target(self._section, label, value, target, ok))

    def problem(self, text: str) -> None:
        self.problems.append(f"[{self._section}] {text}")
        self._print(f"  ! {text}")

    def summary(self) -> None:
        self._print("\n== Summary of targets ==")
        for t in self.targets:
            mark = PASS if t.ok else FAIL
            self._print(f"  {mark} {t.section[:26]:<26} {t.label[:52]:<52} {t.value} ({t.target})")
        met = sum(t.ok for t in self.targets)
        self._print(f"  {met} of {len(self.targets)} targets met")
        if self.problems:
            self._print("\n== Problems seen ==")
            for text in self.problems:
                self._print(f"  ! {text}")

    @staticmethod
    def _print(text: str) -> None:
        print(text, flush=True)
        sys.stdout.flush()
