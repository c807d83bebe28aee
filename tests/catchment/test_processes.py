"""What the operating system tells about processes: lock holders, memory, zombies."""

from __future__ import annotations

import fcntl
import os
import subprocess
from pathlib import Path

from duckstring.catchment.processes import (
    is_zombie,
    line_lock_holder,
    lock_holder,
    process_memory,
    read_memories,
)


def test_a_locks_holder_is_read_and_a_free_lock_stays_free(tmp_path: Path) -> None:
    lock = tmp_path / "duck.lock"
    assert lock_holder(lock) is None and line_lock_holder(lock) is None  # no file yet
    lock.write_text("pid 4242\n")
    assert lock_holder(lock) is None  # nobody holds it
    with open(lock, "a+") as held:
        fcntl.flock(held.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        assert lock_holder(lock) == "pid 4242"
        assert line_lock_holder(lock) == 4242
        held.truncate(0)
        assert lock_holder(lock) == "" and line_lock_holder(lock) is None
    with open(lock, "a+") as again:  # reading it took nothing
        fcntl.flock(again.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)


def test_a_process_that_exited_unreaped_is_a_zombie() -> None:
    child = subprocess.Popen(["true"])
    os.waitid(os.P_PID, child.pid, os.WEXITED | os.WNOWAIT)  # it exited; not reaped yet
    assert is_zombie(child.pid)
    child.wait()
    assert not is_zombie(child.pid)
    assert not is_zombie(os.getpid())


def test_process_memory_reads_a_live_process_and_not_a_gone_one() -> None:
    mine = process_memory(os.getpid())
    assert mine is not None and mine > 1024 * 1024  # an interpreter holds a MiB at least
    assert process_memory(2**22 + 12345) is None  # beyond pid_max on Linux: no such process


def test_memories_are_read_until_something_else_needs_the_thread() -> None:
    pids = {"mine": os.getpid(), "gone": 2**22 + 12345, "again": os.getpid()}
    every = read_memories(pids)
    assert list(every) == ["mine", "gone", "again"]
    assert every["gone"] is None and every["mine"] is not None
    asked: list[int] = []

    def give_way() -> bool:  # a Duck starts to wait for its fork after the first reading
        asked.append(1)
        return len(asked) > 1

    assert list(read_memories(pids, give_way)) == ["mine"]
    assert read_memories(pids, lambda: True) == {}
