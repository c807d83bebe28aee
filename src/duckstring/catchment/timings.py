"""How long Pond Runs and Ripple attempts take, as the driver applies them: the duration
histograms of ``GET /metrics``, and each line's count of failed Pond Runs.

The driver stages what it saw inside its transaction (:meth:`RunTimings.run_began` and the
rest) and :meth:`RunTimings.commit` s it after the transaction committed, so a rolled-back
change observes nothing. Observing is a dictionary look-up and a histogram bucket: no I/O, no
lock held beyond the histogram's own. Pond Runs are timed on the Catchment's clock (from
``RunBegan`` to its end); Ripple attempts on their Duck's (its events' ``at``), both in seconds.

Each line has its own two histograms (``prometheus_client.Histogram`` objects registered
nowhere), so ``/metrics`` can render one line's and keep the text until the line's
:meth:`RunTimings.version` moves.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from functools import partial
from typing import Literal

from prometheus_client import Histogram

from duckstring.engine.clock import SECOND, Micros

#: Bucket bounds in seconds, shared by both histograms: trivial Ripples take a tenth of a
#: second, heavy ones minutes; eight bounds keep a line of five Ripples under 70 samples.
DURATION_BUCKETS = (0.1, 0.5, 1.0, 5.0, 15.0, 60.0, 300.0, 1800.0)

RUN_DURATION = "duckstring_pond_run_duration_seconds"
RIPPLE_DURATION = "duckstring_ripple_duration_seconds"

#: How a Pond Run ended (``outcome`` of the run histogram): as recorded in its history.
RunOutcome = Literal["success", "failed", "killed"]
#: How a Ripple attempt ended (``outcome`` of the Ripple histogram).
AttemptOutcome = Literal["success", "failed"]


class LineTimings:
    """One line's histograms and its count of failed Pond Runs."""

    __slots__ = ("failed", "ripples", "runs", "version")

    def __init__(self, line: str) -> None:
        self.runs = Histogram(
            RUN_DURATION,
            "Pond Runs from their start to their end, by line and outcome.",
            ("line", "outcome"),
            registry=None,
            buckets=DURATION_BUCKETS,
        )
        self.ripples = Histogram(
            RIPPLE_DURATION,
            "Ripple attempts from their start to their end in their Duck, by line, Ripple "
            "and outcome.",
            ("line", "ripple", "outcome"),
            registry=None,
            buckets=DURATION_BUCKETS,
        )
        #: Pond Runs of the line recorded as failed (seeded from its history).
        self.failed = 0
        #: Moves with every observation, so a renderer knows when its text is out of date.
        self.version = 0


class RunTimings:
    """The timings of every line of one Catchment (see the module)."""

    def __init__(self) -> None:
        self.lines: dict[str, LineTimings] = {}
        #: When each run in flight began, (line, seq) -> Catchment micros.
        self._runs: dict[tuple[str, int], Micros] = {}
        #: When each Ripple attempt in flight started, (line, seq, ripple, attempt) -> Duck micros.
        self._attempts: dict[tuple[str, int, str, int], Micros] = {}
        #: Immediate retries each run in flight has made, (line, seq) -> count: the Duck spends
        #: the run's budget, and its ``retrying`` failures are how the Catchment learns of it.
        self._retried: dict[tuple[str, int], int] = {}
        self._staged: list[Callable[[], None]] = []

    def of(self, line: str) -> LineTimings:
        timings = self.lines.get(line)
        if timings is None:
            timings = self.lines[line] = LineTimings(line)
        return timings

    def retries_spent(self, line: str, seq: int) -> int:
        """Immediate retries run ``seq`` of ``line`` has made so far."""
        return self._retried.get((line, seq), 0)

    def version(self, line: str) -> int:
        timings = self.lines.get(line)
        return 0 if timings is None else timings.version

    def seed(self, failed: dict[str, int], in_flight: Iterable[tuple[str, int, Micros]]) -> None:
        """A Catchment starting: each line's failed Pond Runs so far (from its history) and
        when its runs still in flight began."""
        for line, count in failed.items():
            self.of(line).failed = count
        for line, seq, at in in_flight:
            self._runs[(line, seq)] = at

    def forget(self, lines: Iterable[str]) -> None:
        """Lines no longer deployed: their figures and their timers go."""
        gone = set(lines)
        for line in gone:
            self.lines.pop(line, None)
        self._runs = {key: at for key, at in self._runs.items() if key[0] not in gone}
        self._attempts = {key: at for key, at in self._attempts.items() if key[0] not in gone}
        self._retried = {key: n for key, n in self._retried.items() if key[0] not in gone}

    # -- staged by the driver inside its transaction -------------------------------------------

    def run_began(self, line: str, seq: int, at: Micros) -> None:
        self._staged.append(partial(self._run_began, line, seq, at))

    def run_ended(self, line: str, seq: int, at: Micros, outcome: RunOutcome) -> None:
        self._staged.append(partial(self._run_ended, line, seq, at, outcome))

    def attempt_started(self, line: str, seq: int, ripple: str, attempt: int, at: Micros) -> None:
        self._staged.append(partial(self._attempt_started, line, seq, ripple, attempt, at))

    def attempt_ended(
        self,
        line: str,
        seq: int,
        ripple: str,
        attempt: int,
        at: Micros,
        outcome: AttemptOutcome,
        *,
        retrying: bool = False,
    ) -> None:
        """An attempt ended; ``retrying``: it failed and the run tries the Ripple again."""
        self._staged.append(
            partial(self._attempt_ended, line, seq, ripple, attempt, at, outcome, retrying)
        )

    def discard(self) -> None:
        """The transaction rolled back: what it staged never happened."""
        self._staged.clear()

    def commit(self) -> None:
        """The transaction committed: observe what it staged."""
        staged, self._staged = self._staged, []
        for observe in staged:
            observe()

    # -- applied on commit ---------------------------------------------------------------------

    def _run_began(self, line: str, seq: int, at: Micros) -> None:
        self._runs[(line, seq)] = at

    def _run_ended(self, line: str, seq: int, at: Micros, outcome: RunOutcome) -> None:
        timings = self.of(line)
        if outcome == "failed":
            timings.failed += 1
        began = self._runs.pop((line, seq), None)
        if began is not None:
            timings.runs.labels(line, outcome).observe(max(0, at - began) / SECOND)
        # An attempt of the run that never reported its end (its Duck died) is not waited for.
        for key in [key for key in self._attempts if key[0] == line and key[1] == seq]:
            del self._attempts[key]
        self._retried.pop((line, seq), None)
        timings.version += 1

    def _attempt_started(self, line: str, seq: int, ripple: str, attempt: int, at: Micros) -> None:
        self._attempts[(line, seq, ripple, attempt)] = at

    def _attempt_ended(
        self,
        line: str,
        seq: int,
        ripple: str,
        attempt: int,
        at: Micros,
        outcome: AttemptOutcome,
        retrying: bool,
    ) -> None:
        timings = self.of(line)
        if retrying:
            self._retried[(line, seq)] = self._retried.get((line, seq), 0) + 1
        began = self._attempts.pop((line, seq, ripple, attempt), None)
        if began is not None:  # else it started before this Catchment did: no duration known
            timings.ripples.labels(line, ripple, outcome).observe(max(0, at - began) / SECOND)
        timings.version += 1
