"""A launcher held in memory (a :class:`~duckstring.catchment.launcher.Launcher`): its Ducks
are names, and a test ends one with :meth:`MemoryLauncher.exit`."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass

from duckstring.catchment.launcher import LauncherClosed, Node, OnExit
from duckstring.duck.protocol import BeginRun


@dataclass
class MemoryDuck:
    line: str
    version: str | None
    #: The runs it was started with.
    commands: tuple[BeginRun, ...]
    adopted: bool = False
    on_exit: OnExit | None = None


class MemoryLauncher:
    def __init__(self, spares: int = 0, survivors: Collection[str] = ()) -> None:
        self.spares = spares
        self.ready = spares
        self.ducks: dict[str, MemoryDuck] = {}
        #: Lines with a Duck left by a previous Catchment, for :meth:`adopt` to find.
        self.survivors = set(survivors)
        #: What happened, in order: ("spare" | "forked" | "adopted" | "killed", line).
        self.log: list[tuple[str, str]] = []
        self.sizes: dict[str, int | None] = {}
        #: Where a test says each line's Duck runs.
        self.nodes: dict[str, Node] = {}
        #: Why a test says each line's Duck waits for a node.
        self.waiting: dict[str, str] = {}
        self.closed = False

    def start(
        self, line: str, version: str | None = None, commands: Sequence[BeginRun] = ()
    ) -> None:
        if self.closed:
            raise LauncherClosed(line)
        self.ducks[line] = MemoryDuck(line, version, tuple(commands))
        self.log.append(("forked", line))

    def take_spare(
        self, line: str, version: str | None = None, commands: Sequence[BeginRun] = ()
    ) -> bool:
        if self.closed:
            raise LauncherClosed(line)
        if not self.ready:
            return False
        self.ready -= 1
        self.ducks[line] = MemoryDuck(line, version, tuple(commands))
        self.log.append(("spare", line))
        return True

    def replenish(self, give_way: Callable[[], bool] = lambda: False) -> int:
        started = 0
        while self.ready < self.spares and not give_way() and not self.closed:
            self.ready += 1
            started += 1
        return started

    def spares_waiting(self) -> int:
        return self.ready

    def adopt(self, line: str) -> bool:
        if line not in self.survivors:
            return False
        self.survivors.discard(line)
        self.ducks[line] = MemoryDuck(line, None, (), adopted=True)
        self.log.append(("adopted", line))
        return True

    def watch(self, line: str, loop: asyncio.AbstractEventLoop, on_exit: OnExit) -> None:
        self.ducks[line].on_exit = on_exit

    def kill(self, line: str) -> None:
        if line in self.ducks:
            self.log.append(("killed", line))

    def memory(
        self, lines: Collection[str], give_way: Callable[[], bool] = lambda: False
    ) -> dict[str, int | None]:
        return {line: self.sizes.get(line) for line in lines if line in self.ducks}

    def resident(self, lines: Collection[str]) -> dict[str, int | None]:
        return {line: self.sizes.get(line) for line in lines if line in self.ducks}

    def stop_all(self, timeout: float = 5.0, *, leave: Collection[str] = ()) -> dict[str, str]:
        self.closed = True
        left = {line: "in memory" for line in self.ducks if line in leave}
        self.ducks.clear()
        return left

    def waiting_for_node(self, line: str) -> str | None:
        return self.waiting.get(line) if line in self.ducks else None

    def node_of(self, line: str) -> Node | None:
        return self.nodes.get(line) if line in self.ducks else None

    def exit(self, line: str, code: int | None, reason: str | None = None) -> None:
        """The Duck of ``line`` ends with ``code`` (and ``reason``, when the launcher knows
        one), as the launcher would see it."""
        duck = self.ducks.pop(line)
        if duck.on_exit is not None:
            duck.on_exit(line, code, duck.adopted, reason)
