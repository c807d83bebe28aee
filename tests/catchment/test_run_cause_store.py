"""A Pond Run's cause is written with the run's history row, in the same transaction, and
outlives the Catchment: a real store and driver, a launcher held in memory."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

from memory_launcher import MemoryLauncher
from test_driver import complete, deploy, driver_on, pulse, run

from duckstring.catchment.store import Store
from duckstring.catchment.store.schema import MIGRATIONS


def test_a_begun_run_stores_its_cause_and_it_survives_a_restart(tmp_path: Path) -> None:
    async def body() -> None:
        with driver_on(tmp_path, MemoryLauncher()) as driver:
            driver.start(asyncio.get_running_loop())
            line = deploy(driver, "solo")
            command = pulse(driver, line)
            stored = driver.store.run(line, command.seq)
            assert stored is not None
            assert stored["cause"] == {
                "kind": "push",
                "by": line,
                "via": "pulse",
                "origin": line,
                "trigger": "pulse",
                "target": command.f,
                "source_f": command.f,
                "source": None,
                "source_run": None,
                "window": None,
            }
            complete(driver, line, command)
            assert driver.engine.pond(line).end_seq == command.seq

    run(body)
    store = Store(tmp_path / "duck.db")
    try:
        assert store.schema_version == len(MIGRATIONS) == 3
        again = store.run("solo@1", 1)
        assert again is not None and again["status"] == "success"
        assert again["cause"]["via"] == "pulse"
        assert store.run("solo@1", 2) is None
        (row,) = store.load_engine_rows()["ponds"]
        assert row["end_seq"] == 1
    finally:
        store.close()


def test_runs_recorded_before_the_migration_have_no_cause(tmp_path: Path) -> None:
    path = tmp_path / "duck.db"
    con = sqlite3.connect(path)
    for number, script in enumerate(MIGRATIONS[:2], start=1):
        con.executescript(script)
        con.execute(f"PRAGMA user_version = {number}")
    con.execute(
        "INSERT INTO runs (line, name, major, seq, f, kind, started_at, status) "
        "VALUES ('old@1', 'old', 1, 4, 10, 'pull', 10, 'success')"
    )
    con.commit()
    con.close()
    store = Store(path)
    try:
        old = store.run("old@1", 4)
        assert old is not None and old["cause"] is None and old["seq"] == 4
    finally:
        store.close()
