"""What the operating system tells about processes: who holds a lock file, how much memory a
process holds, whether it is a zombie. The one module that reads lock files and ``/proc``."""

from __future__ import annotations

import fcntl
import os
from collections.abc import Callable, Mapping
from pathlib import Path


def lock_holder(lock: Path) -> str | None:
    """What the process holding ``lock`` wrote in it (stripped; may be empty), or None when no
    process holds it. Takes nothing: a free lock is released again at once."""
    if not lock.exists():
        return None
    with open(lock, "a+") as handle:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            return handle.read().strip()
        fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
    return None


def line_lock_holder(lock: Path) -> int | None:
    """The pid of the Duck holding a line's ``duck.lock``, or None when no Duck holds it."""
    words = (lock_holder(lock) or "").split()
    if len(words) >= 2 and words[0] == "pid" and words[1].isdigit():
        return int(words[1])
    return None


def process_memory(pid: int) -> int | None:
    """The proportional set size of process ``pid`` in bytes (its own pages, and its share of
    the pages it shares with the forkserver and the other Ducks); None if it cannot be read."""
    try:
        with open(f"/proc/{pid}/smaps_rollup") as handle:
            for row in handle:
                if row.startswith("Pss:"):
                    return int(row.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


#: Bytes of one page of memory, as /proc/PID/statm counts them.
PAGE_BYTES = os.sysconf("SC_PAGE_SIZE")


def resident_memory(pid: int) -> int | None:
    """The resident set size of process ``pid`` in bytes (pages it shares with the forkserver
    and other Ducks counted whole); None if it cannot be read. A counter the kernel keeps, so
    cheap to read (unlike :func:`process_memory`, which walks every mapping)."""
    try:
        with open(f"/proc/{pid}/statm") as handle:
            return int(handle.read().split()[1]) * PAGE_BYTES
    except (OSError, ValueError, IndexError):
        return None


def read_memories(
    pids: Mapping[str, int], give_way: Callable[[], bool] = lambda: False
) -> dict[str, int | None]:
    """The memory of each process in ``pids`` (:func:`process_memory`), read one at a time,
    stopping early with what was read so far as soon as ``give_way()`` is true.

    A reading costs ~2 ms of CPU for a Duck (the kernel walks its ~350 mappings), and the
    Catchment reads on the thread that forks Ducks: a hundred idle Ducks read in one go would
    keep a new Duck waiting ~0.2 s for its fork.
    """
    memories: dict[str, int | None] = {}
    for key, pid in pids.items():
        if give_way():
            break
        memories[key] = process_memory(pid)
    return memories


def is_zombie(pid: int) -> bool:
    """Whether ``pid`` has exited and waits for its parent to reap it."""
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] == "Z"
    except (OSError, IndexError):
        return False
