"""The ledger's schema: made once, whoever opens a new ``pond.db`` first."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

from duckstring.duck.ledger import _MIGRATIONS, Ledger


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
