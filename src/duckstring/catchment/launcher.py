"""The launcher seam: how a Catchment starts, watches and stops the Duck of a line.

The fleet policy (:mod:`duckstring.catchment.fleet`) decides which Ducks run; a
:class:`Launcher` makes it so on some kind of machine. :class:`~duckstring.catchment.forkserver.
ForkserverLauncher` forks them on this one; tests use one held in memory. Everything is named by
line (``name@major``): a launcher keeps at most one Duck per line, and what a Duck is (a process,
an actor) is its own business.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    # Not at run time: the forkserver preloads this module into every Duck, which needs
    # neither (importing asyncio there cost the forkserver and each Duck ~1 MiB).
    import asyncio

    from duckstring.duck.protocol import BeginRun

#: How much lower a Duck's CPU priority is than the Catchment's, by default: the lowest. Under
#: fifty busy Ducks the Catchment still gets most of a core, so it answers and dispatches at
#: once; on a machine with nothing else to run, the Ducks lose nothing by it.
DUCK_NICENESS = 19

#: Told when a line's Duck ended: the line, its exit code (None when it cannot be known, as for
#: a Duck adopted after a restart, which is not this Catchment's child), whether it was adopted,
#: and why it ended when the launcher knows better than the code (None: the code says it), such
#: as the cluster node it ran on having left.
OnExit = Callable[[str, int | None, bool, str | None], None]


@dataclass(frozen=True)
class Node:
    """Where a Duck runs: a cluster node's id and address."""

    id: str
    address: str

    def to_api(self) -> dict[str, str]:
        return {"id": self.id, "address": self.address}

    def describe(self) -> str:
        return f"node {self.id[:12]} ({self.address})"


class LauncherClosed(RuntimeError):
    """The Catchment is stopping: no new Duck may start."""


class Launcher(Protocol):
    """Starts, watches and stops the Ducks of a Catchment, one per line.

    ``start``, ``replenish`` and ``memory`` may block (a fork, reading a process's memory): the
    Catchment calls them off its event loop. Every other method is cheap and is called on the
    loop.
    """

    #: How many spare Ducks it keeps waiting, started but not yet given a line.
    spares: int

    def start(
        self, line: str, version: str | None = None, commands: Sequence[BeginRun] = ()
    ) -> None:
        """Start the Duck of ``line``. ``version`` is the one it will most likely run first (it
        loads that code while it waits for its first command); ``commands`` are the line's
        runs already waiting, which it begins without polling for them."""
        ...

    def take_spare(
        self, line: str, version: str | None = None, commands: Sequence[BeginRun] = ()
    ) -> bool:
        """Make a waiting spare the Duck of ``line`` (arguments as for :meth:`start`); False
        when no spare waits."""
        ...

    def replenish(self, give_way: Callable[[], bool] = lambda: False) -> int:
        """Start spares until :attr:`spares` wait, or until ``give_way()`` says a line's Duck
        waits to be started; returns how many were started."""
        ...

    def spares_waiting(self) -> int:
        """How many spares wait now."""
        ...

    def adopt(self, line: str) -> bool:
        """Take on a Duck of ``line`` that outlived the previous Catchment on this root (it
        dials back in by itself); False when there is none."""
        ...

    def watch(self, line: str, loop: asyncio.AbstractEventLoop, on_exit: OnExit) -> None:
        """Call ``on_exit`` on ``loop`` once the Duck of ``line`` (started, bound or adopted)
        ends, after collecting it. Only the line's current Duck is reported."""
        ...

    def kill(self, line: str) -> None:
        """End the Duck of ``line`` and everything it started, now."""
        ...

    def memory(
        self, lines: Collection[str], give_way: Callable[[], bool] = lambda: False
    ) -> dict[str, int | None]:
        """What the Ducks of ``lines`` hold in memory, in bytes (None: it could not be read),
        read one at a time until ``give_way()``."""
        ...

    def resident(self, lines: Collection[str]) -> dict[str, int | None]:
        """What the Ducks of ``lines`` hold resident now, in bytes (None: it could not be
        read; a line with no Duck is absent). Cheap enough for every scrape of the metrics, and
        safe from any thread."""
        ...

    def waiting_for_node(self, line: str) -> str | None:
        """Why the Duck of ``line``, started, is not on a node yet (None: it is, or this
        launcher starts Ducks at once where it stands). Cheap: called on the loop."""
        ...

    def node_of(self, line: str) -> Node | None:
        """The cluster node the Duck of ``line`` runs on (None: on this machine, or not known
        yet). Cheap and safe from any thread."""
        ...

    def stop_all(self, timeout: float = 5.0, *, leave: Collection[str] = ()) -> dict[str, str]:
        """Stop every Duck but those of ``leave`` that still run, and every spare; start no
        more. The Ducks of ``leave`` go on without this Catchment (they have work in flight and
        report it to the next one). Returns the Ducks let go: line -> where it runs."""
        ...
