"""What the fleet policy reads of its Catchment: :class:`FleetView`, and the Catchment's own
:class:`CatchmentView` over its driver's engine and job board and its launcher's spares.

The policy only ever asks (the view changes nothing); tests give it a view held in memory.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable
from typing import TYPE_CHECKING, Protocol

from duckstring.catchment.launcher import Launcher
from duckstring.duck.protocol import BeginRun
from duckstring.engine import windows as window_rules
from duckstring.engine.pond import PondNode

if TYPE_CHECKING:
    from duckstring.catchment.driver import Driver


class FleetView(Protocol):
    """What the fleet policy reads of its Catchment: the engine's lines, the job board's
    queues, the launcher's spares. Lines are ``name@major``; an unknown line has nothing."""

    def knows(self, line: str) -> bool:
        """The line is in the engine."""

    def has_runs(self, line: str) -> bool:
        """The engine tracks a run of the line: in flight, or halted by a failure."""

    def is_running(self, line: str) -> bool:
        """A run of the line is in flight."""

    def has_demand(self, line: str) -> bool:
        """The line holds demand (pull, or push targets)."""

    def has_trigger(self, line: str) -> bool:
        """The line holds a standing trigger (a Wave or a Tide)."""

    def run_queued(self, line: str) -> bool:
        """A ``begin_run`` waits on the job board for the line's Duck."""

    def kept_warm(self) -> Collection[str]:
        """The lines holding a standing trigger, and every line upstream of one."""

    def awaiting_runs(self) -> Iterable[str]:
        """The deployed lines with demand and no run yet."""

    def upstream(self, line: str) -> Iterable[tuple[str, bool]]:
        """The line's Sources in the engine, each with whether it is required."""

    def is_faulted(self, line: str) -> bool:
        """Failed, killed or blocked: nothing runs there until that is dealt with."""

    def window_closed(self, line: str) -> bool:
        """An Inlet with windows, none of them open now."""

    def can_start(self) -> bool:
        """Ducks may start: the Catchment knows the URL they dial back to."""

    def spares_short(self) -> bool:
        """Fewer spares wait than the launcher keeps."""

    def waiting_for_node(self, line: str) -> str | None:
        """Why the line's started Duck is not on a node yet (None: it is, or its launcher
        starts Ducks where it stands)."""


class CatchmentView:
    """The :class:`FleetView` of a running Catchment: its driver's engine and job board, and
    its launcher's spares."""

    def __init__(self, driver: Driver, launcher: Launcher, can_spawn: Callable[[], bool]) -> None:
        self._driver = driver
        self._launcher = launcher
        self._can_spawn = can_spawn

    def _pond(self, line: str) -> PondNode | None:
        return self._driver.engine.ponds.get(line)

    def knows(self, line: str) -> bool:
        return line in self._driver.engine.ponds

    def has_runs(self, line: str) -> bool:
        p = self._pond(line)
        return p is not None and bool(p.runs)

    def is_running(self, line: str) -> bool:
        p = self._pond(line)
        return p is not None and p.running

    def has_demand(self, line: str) -> bool:
        p = self._pond(line)
        return p is not None and p.has_demand

    def has_trigger(self, line: str) -> bool:
        p = self._pond(line)
        return p is not None and p.trigger is not None

    def run_queued(self, line: str) -> bool:
        return any(isinstance(c, BeginRun) for c in self._driver.board.pending(line))

    def kept_warm(self) -> Collection[str]:
        engine = self._driver.engine
        lines: set[str] = set()
        for p in engine.ponds.values():
            if p.trigger is not None:
                lines.add(p.id)
                lines.update(engine.ancestors(p.id))
        return lines

    def awaiting_runs(self) -> Iterable[str]:
        deployed = self._driver.lines
        return [
            line
            for line, p in self._driver.engine.ponds.items()
            if p.has_demand and not p.runs and line in deployed
        ]

    def upstream(self, line: str) -> Iterable[tuple[str, bool]]:
        ponds = self._driver.engine.ponds
        p = ponds.get(line)
        if p is None:
            return ()
        return [(edge.source, not edge.optional) for edge in p.sources if edge.source in ponds]

    def is_faulted(self, line: str) -> bool:
        p = self._pond(line)
        return p is not None and (p.is_failed or p.is_killed or p.blocked)

    def window_closed(self, line: str) -> bool:
        p = self._pond(line)
        if p is None or p.sources or not p.windows:
            return False
        return window_rules.open_window(p.windows, self._driver.clock.now()) is None

    def can_start(self) -> bool:
        return self._can_spawn()

    def spares_short(self) -> bool:
        return self._launcher.spares_waiting() < self._launcher.spares

    def waiting_for_node(self, line: str) -> str | None:
        return self._launcher.waiting_for_node(line)
