"""Per-line command queues that Ducks long-poll. A command reaches a waiting Duck at once."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Collection
from dataclasses import dataclass, field

from duckstring.duck.protocol import BeginRun, Shutdown

Command = BeginRun | Shutdown


@dataclass
class _Line:
    commands: list[Command] = field(default_factory=list)
    ready: asyncio.Event = field(default_factory=asyncio.Event)


class JobBoard:
    """Commands waiting for each line's Duck."""

    def __init__(self) -> None:
        self._lines: dict[str, _Line] = {}
        #: Set when the server shuts down: polls answer at once, so connections can close.
        self.closing = False

    def release_all(self) -> None:
        """Answer every waiting poll now and every later one at once (server shutdown)."""
        self.closing = True
        for entry in self._lines.values():
            entry.ready.set()

    def _line(self, line: str) -> _Line:
        entry = self._lines.get(line)
        if entry is None:
            entry = self._lines[line] = _Line()
        return entry

    def post(self, line: str, command: Command) -> None:
        entry = self._line(line)
        entry.commands.append(command)
        entry.ready.set()

    def pending(self, line: str) -> list[Command]:
        return list(self._line(line).commands)

    def withdraw_shutdown(self, line: str) -> bool:
        """Take back an undelivered shutdown (new work arrived); True if there was one."""
        return _drop(self._line(line), lambda c: isinstance(c, Shutdown))

    def withdraw_run(self, line: str, seq: int) -> None:
        """Take back run ``seq``'s undelivered ``begin_run`` (the run ended without it)."""
        entry = self._lines.get(line)
        if entry is not None:
            _drop(entry, lambda c: isinstance(c, BeginRun) and c.seq == seq)

    def clear(self, line: str) -> None:
        entry = self._line(line)
        entry.commands = []
        entry.ready.clear()

    async def take(self, line: str, wait: float, *, held: Collection[int] = ()) -> list[Command]:
        """Every queued command, as soon as there is one, or none after ``wait`` seconds.

        ``held`` are runs the polling Duck already holds (those handed to it when it was
        started): their ``begin_run`` commands are dropped instead of answered, so a new Duck's
        first poll waits for new work rather than bring back what it is already running.
        """
        entry = self._line(line)
        if self.closing:
            return []
        if held:
            _drop(entry, lambda c: isinstance(c, BeginRun) and c.seq in held)
        if not entry.commands:
            try:
                # Not wait_for: on 3.11 it wraps the wait in a task of its own, and a posted
                # command then takes three turns of the loop to reach this poll instead of one.
                async with asyncio.timeout(wait):
                    await entry.ready.wait()
            except TimeoutError:
                return []
            if self.closing:
                return []
        commands, entry.commands = entry.commands, []
        entry.ready.clear()
        return commands


def _drop(entry: _Line, unwanted: Callable[[Command], bool]) -> bool:
    """Take the ``unwanted`` commands off a line's queue; True if there were any."""
    kept = [c for c in entry.commands if not unwanted(c)]
    dropped = len(kept) != len(entry.commands)
    entry.commands = kept
    if not kept:
        entry.ready.clear()
    return dropped
