"""duck.db: migrations, engine state persisted per Pond, history and idempotent events."""

import sqlite3
from pathlib import Path

import pytest

from duckstring.catchment.store import Store
from duckstring.catchment.store.db import StoreError
from duckstring.catchment.store.schema import MIGRATIONS
from duckstring.engine.rows import engine_rows, restore
from duckstring.engine.sim import Simulation


def test_a_new_database_is_migrated_to_the_latest_schema_in_wal_mode(tmp_path: Path) -> None:
    store = Store(tmp_path / "duck.db")
    assert store.schema_version == len(MIGRATIONS)
    assert store.con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    store.close()
    assert Store(tmp_path / "duck.db").schema_version == len(MIGRATIONS)


def test_a_database_from_a_newer_duckstring_is_refused(tmp_path: Path) -> None:
    con = sqlite3.connect(tmp_path / "duck.db")
    con.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 1}")
    con.close()
    with pytest.raises(StoreError, match="upgrade Duckstring"):
        Store(tmp_path / "duck.db")


def saved_waving(tmp_path: Path) -> tuple[Simulation, Store]:
    """A Wave under way, and a store that holds its state as of now."""
    sim = Simulation()
    sim.deploy("A", {"a": [], "b": ["a"]})
    sim.deploy("B", sources=["A"])
    sim.wave("B")
    sim.run_for(7.5)
    store = Store(tmp_path / "duck.db")
    save(store, sim)
    return sim, store


def save(store: Store, sim: Simulation) -> None:
    with store.transaction():
        store.save_ponds(sim.engine, sim.engine.ponds)


def stored_rows(store: Store, sim: Simulation) -> object:
    return engine_rows(restore(store.load_engine_rows(), sim.now))


def test_engine_state_round_trips_through_the_database(tmp_path: Path) -> None:
    sim, store = saved_waving(tmp_path)
    assert stored_rows(store, sim) == engine_rows(sim.engine)


def test_saving_a_pond_rewrites_only_the_tables_whose_rows_changed(tmp_path: Path) -> None:
    sim, store = saved_waving(tmp_path)
    statements: list[str] = []
    store.con.set_trace_callback(statements.append)
    save(store, sim)
    assert statements == ["BEGIN IMMEDIATE", "COMMIT"]  # nothing changed, nothing written
    sim.run_for(2.0)
    statements.clear()
    save(store, sim)
    touched = {word for sql in statements for word in sql.split() if word.startswith("engine_")}
    assert "engine_ponds" in touched  # the runs moved on
    assert not touched & {"engine_sources", "engine_ripple_parents", "engine_windows"}
    assert stored_rows(store, sim) == engine_rows(sim.engine)


def test_rows_of_a_rolled_back_transaction_are_written_again(tmp_path: Path) -> None:
    sim, store = saved_waving(tmp_path)
    sim.run_for(2.0)
    with pytest.raises(RuntimeError), store.transaction():
        store.save_ponds(sim.engine, sim.engine.ponds)
        raise RuntimeError("boom")
    save(store, sim)
    assert stored_rows(store, sim) == engine_rows(sim.engine)


class FailingCommit:
    """A connection whose next COMMIT rolls back instead and raises, as a full disk would."""

    def __init__(self, con: sqlite3.Connection) -> None:
        self.con = con
        self.armed = True

    def execute(self, sql: str, *args: object) -> sqlite3.Cursor:
        if sql == "COMMIT" and self.armed:
            self.armed = False
            self.con.execute("ROLLBACK")
            raise sqlite3.OperationalError("database or disk is full")
        return self.con.execute(sql, *args)

    def __getattr__(self, name: str) -> object:
        return getattr(self.con, name)


def test_after_a_failed_commit_every_pond_is_written_whole(tmp_path: Path) -> None:
    sim, store = saved_waving(tmp_path)
    sim.run_for(2.0)
    real = store.con
    store.con = FailingCommit(real)  # type: ignore[assignment]
    with pytest.raises(sqlite3.OperationalError):
        save(store, sim)
    store.con = real
    save(store, sim)
    assert stored_rows(store, sim) == engine_rows(sim.engine)


def test_a_failed_transaction_leaves_nothing_behind(tmp_path: Path) -> None:
    store = Store(tmp_path / "duck.db")
    with pytest.raises(RuntimeError), store.transaction():
        store.run_began("a@1", "a", 1, 1, 5, "1.0.0", "pull", 10)
        raise RuntimeError("boom")
    assert store.runs(None, 10) == []


def test_an_event_id_is_applied_once(tmp_path: Path) -> None:
    store = Store(tmp_path / "duck.db")
    assert store.first_event("a@1", "ripple_started:1:x:0")
    assert not store.first_event("a@1", "ripple_started:1:x:0")
    assert store.first_event("b@1", "ripple_started:1:x:0")


def test_measured_durations_are_the_median_of_the_last_successful_attempts(
    tmp_path: Path,
) -> None:
    store = Store(tmp_path / "duck.db")
    second = 1_000_000
    took = {"load": [1, 2, 30, 4], "join": [5]}  # seconds, oldest first
    seq = 0
    for ripple, durations in took.items():
        for seconds in durations:
            seq += 1
            store.attempt_started("sales@1", seq, ripple, 1, 0, 100 * second)
            store.attempt_finished("sales@1", seq, ripple, 1, "success", (100 + seconds) * second)
    store.attempt_started("sales@1", 99, "join", 1, 0, 0)
    store.attempt_finished("sales@1", 99, "join", 1, "failed", 500 * second, "boom")
    store.attempt_started("other@1", 1, "load", 1, 0, 0)  # still running: no measure
    assert store.ripple_durations() == {"sales@1": {"load": 3.0, "join": 5.0}}
    # Only the newest attempts count: the last two loads took 30 s and 4 s.
    assert store.ripple_durations(["sales@1"], last=2) == {"sales@1": {"load": 17.0, "join": 5.0}}
    assert store.ripple_durations(["nobody@1"]) == {}
    store.close()


def test_running_since_gives_the_start_of_each_ripple_running_now(tmp_path: Path) -> None:
    store = Store(tmp_path / "duck.db")
    store.attempt_started("sales@1", 1, "join", 0, 0, 10)
    store.attempt_finished("sales@1", 1, "join", 0, "failed", 20, "boom")
    store.attempt_started("sales@1", 1, "join", 1, 0, 25)  # the retry runs now
    store.attempt_started("sales@1", 1, "load", 0, 0, 5)
    store.attempt_finished("sales@1", 1, "load", 0, "success", 9)
    store.attempt_started("other@1", 3, "load", 0, 0, 7)
    assert store.running_since() == {("sales@1", "join"): 25, ("other@1", "load"): 7}
    assert store.running_since(["other@1"]) == {("other@1", "load"): 7}
    store.close()
