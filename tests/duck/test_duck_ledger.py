"""The ledger's schema: made once, whoever opens a new ``pond.db`` first, and a ledger an
older Duck wrote is migrated, not lost."""

from __future__ import annotations

import sqlite3
import threading
from contextlib import closing
from pathlib import Path

import pytest
from duck_support import Line, begin

from duckstring.duck.ledger import _MIGRATIONS, Ledger

F1 = 1_767_225_600_000_000


def _open_at_once(path: Path, openers: int) -> list[BaseException]:
    start = threading.Barrier(openers)
    errors: list[BaseException] = []

    def open_it() -> None:
        start.wait()
        try:
            Ledger(path).close()
        except BaseException as error:  # the test reports it
            errors.append(error)

    threads = [threading.Thread(target=open_it) for _ in range(openers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return errors


def test_ledgers_opened_at_once_on_a_new_file_all_open(tmp_path: Path) -> None:
    # The Catchment makes a new line's ledger at deploy while a Duck may be opening it: whoever
    # switches the file to WAL or migrates second waits and finds it done.
    for attempt in range(20):
        path = tmp_path / f"pond-{attempt}.db"
        assert _open_at_once(path, 6) == []
        with sqlite3.connect(path) as db:
            assert db.execute("PRAGMA user_version").fetchone() == (len(_MIGRATIONS),)
            assert db.execute("PRAGMA journal_mode").fetchone() == ("wal",)


def first_schema_ledger(path: Path, runs: list[tuple[int, str]]) -> None:
    """A ``pond.db`` as a Duck of schema 1 left it, with ``runs`` (seq, status) at ``F1``: a
    run that ended well said ``completed`` then."""
    with closing(sqlite3.connect(path)) as db:
        db.executescript(_MIGRATIONS[0])
        db.executemany(
            "INSERT INTO runs (seq, f, version, kind, immediate_retries, status, began_at, "
            "finished_at, error) VALUES (?, ?, '1.0.0', 'pull', 0, ?, 1, 2, ?)",
            [(seq, F1, status, "boom" if status == "failed" else None) for seq, status in runs],
        )
        db.execute("PRAGMA user_version = 1")
        db.commit()


def test_a_ledger_whose_runs_said_completed_reads_them_as_success(tmp_path: Path) -> None:
    path = tmp_path / "pond.db"
    first_schema_ledger(path, [(1, "completed"), (2, "failed"), (3, "running")])
    ledger = Ledger(path)
    try:
        assert [(run.seq, run.status, run.error) for run in ledger.runs()] == [
            (1, "success", None),
            (2, "failed", "boom"),
            (3, "running", None),
        ]
        assert [run.seq for run in ledger.runs("success")] == [1]
        with pytest.raises(sqlite3.IntegrityError):  # one word for it from now on
            ledger.db.execute(
                "INSERT INTO runs (seq, f, version, kind, immediate_retries, status, began_at) "
                "VALUES (4, 0, '1.0.0', 'pull', 0, 'completed', 0)"
            )
    finally:
        ledger.close()
    with closing(sqlite3.connect(path)) as db:
        assert db.execute("PRAGMA user_version").fetchone() == (len(_MIGRATIONS),)


def test_a_duck_on_an_older_ledger_knows_its_finished_runs(line: Line) -> None:
    path = line.layout.ledger("pond", 1)
    path.parent.mkdir(parents=True, exist_ok=True)
    first_schema_ledger(path, [(1, "completed")])

    duck = line.executor()
    assert duck.end_f == F1  # the line's freshness, from the run that ended well
    duck.submit(begin(1, F1))  # dispatched again: the run is not run, its ending is told
    assert duck.wait_idle(10)
    assert [len(line.calls(r)) for r in "abc"] == [0, 0, 0]
    assert line.event_ids() == ["run_completed:1"]
