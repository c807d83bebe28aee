"""What ``/proc`` says about a Catchment's processes: its tree, their states, and which of them
are the Ducks of which lines.

A process is named by its pid *and* its start time (:func:`started_at`): a pid alone may be
taken by a later process once the first is gone, so sets of processes to watch are kept as
``{pid: start time}``.
"""

from __future__ import annotations

import contextlib
import os
import signal
from collections.abc import Iterable, Mapping
from pathlib import Path

from duckstring.layout import RootLayout
from duckstring.pond.names import parse_line

PROC = Path("/proc")


def _stat_fields(pid: int) -> list[str] | None:
    """The fields of ``/proc/PID/stat`` after the command name (index 0 is the state), or None
    if there is no such process."""
    try:
        return (PROC / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None


def all_pids() -> list[int]:
    """Every process id on the machine now."""
    return [int(entry.name) for entry in PROC.iterdir() if entry.name.isdigit()]


def children_of(*pids: int) -> list[int]:
    """Every descendant process id of ``pids``: children, theirs, and so on (one reading of
    ``/proc`` for all of them)."""
    parents: dict[int, list[int]] = {}
    for other in all_pids():
        fields = _stat_fields(other)
        if fields is not None:
            parents.setdefault(int(fields[1]), []).append(other)
    found: list[int] = []
    reached: set[int] = set()
    frontier = list(pids)
    while frontier:
        for child in parents.get(frontier.pop(), []):
            if child not in reached:
                reached.add(child)
                found.append(child)
                frontier.append(child)
    return found


def started_at(pid: int) -> int | None:
    """When process ``pid`` started (clock ticks since boot): with its pid, it names one
    process, not whichever later takes the number. None if there is no such process."""
    fields = _stat_fields(pid)
    try:
        return None if fields is None else int(fields[19])
    except (IndexError, ValueError):
        return None


def state_of(pid: int) -> str | None:
    """The process's state letter (``Z``: a zombie), or None if there is no such process."""
    fields = _stat_fields(pid)
    return None if not fields else fields[0]


def parent_of(pid: int) -> int | None:
    """The parent's pid, or None if there is no such process."""
    fields = _stat_fields(pid)
    try:
        return None if fields is None else int(fields[1])
    except (IndexError, ValueError):
        return None


def zombies(pids: Iterable[int] | None = None) -> list[int]:
    """The zombies (exited, not yet reaped) among ``pids``, or on the whole machine."""
    return [pid for pid in (all_pids() if pids is None else pids) if state_of(pid) == "Z"]


def still_running(seen: Mapping[int, int]) -> list[int]:
    """The processes of ``seen`` (pid -> start time) that still run: neither gone, nor
    zombies (a zombie's parent is the one to reap it; see :func:`unreaped`)."""
    return [
        pid
        for pid, start in sorted(seen.items())
        if started_at(pid) == start and state_of(pid) not in (None, "Z", "X")
    ]


def unreaped(parents: Mapping[int, int]) -> list[int]:
    """Zombies whose parent is one of ``parents`` (pid -> start time), still running: a
    process of ours that does not reap its children. (An orphan's zombie belongs to init.)"""
    alive = set(still_running(parents))
    return [pid for pid in zombies() if parent_of(pid) in alive]


def kill_group(pid: int) -> None:
    """SIGKILL the process group ``pid`` leads (a Duck's: everything it started), or the
    process alone when it leads none."""
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def line_ducks(root: Path, among: Iterable[int] | None = None) -> dict[str, list[int]]:
    """The processes holding each line's ``duck.lock`` open, by line (``name@major``): a Duck
    holds its line's lock for as long as it runs. ``among`` limits the search to those
    processes (say, a server's descendants); by default every process is looked at."""
    locks = {os.path.realpath(lock): line for line, lock in RootLayout(root).duck_locks().items()}
    holders: dict[str, list[int]] = {}
    if not locks:
        return holders
    for pid in all_pids() if among is None else among:
        descriptors = PROC / str(pid) / "fd"
        try:
            names = os.listdir(descriptors)
        except OSError:
            continue  # the process ended, or is not ours to read
        targets = set()
        for name in names:
            # A busy process closes files between the listing and the read (a Duck exporting
            # Parquet does): skip that descriptor, not the whole process.
            with contextlib.suppress(OSError):
                targets.add(os.readlink(descriptors / name))
        for path, line in locks.items():
            if path in targets:
                holders.setdefault(line, []).append(pid)
    return holders


def duck_pids(root: Path) -> dict[str, list[int]]:
    """The processes holding a line's ``duck.lock`` open, by Pond name (all its lines)."""
    by_pond: dict[str, list[int]] = {}
    for line, pids in line_ducks(root).items():
        by_pond.setdefault(parse_line(line)[0], []).extend(pids)
    return by_pond
