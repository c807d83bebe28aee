"""A Duck's working database, attached to the DuckDB instance its forkserver built."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import duckdb

from duckstring.duck.registry import open_registry, release
from duckstring.pond.export import list_tables
from scripts import run_script

# Forks Ducks the way the Catchment does (a forkserver with the launcher's preload list) and
# has each open a working database, write to it, report what it sees and close it.
FORKED_DUCKS = textwrap.dedent(
    """
    import json, multiprocessing, os, sys
    from pathlib import Path
    from duckstring.catchment.forkserver import PRELOAD

    def duck(path, report):
        from duckstring.duck import registry
        was_prepared = registry.prepared()
        con = registry.open_registry(Path(path))
        con.execute("CREATE TABLE t AS SELECT range AS i FROM range(100000)")
        cursor = con.cursor()
        seen = {
            "was_prepared": was_prepared,
            "database": con.execute("SELECT current_database()").fetchone()[0],
            "cursor_database": cursor.execute("SELECT current_database()").fetchone()[0],
            "cursor_rows": cursor.execute("SELECT count(*) FROM t").fetchone()[0],
            "threads": con.execute("SELECT current_setting('threads')").fetchone()[0],
            "async_threads": con.execute("SELECT current_setting('async_threads')").fetchone()[0],
            "temp_directory": con.execute("SELECT current_setting('temp_directory')").fetchone()[0],
            "uuid": str(con.execute("SELECT uuid()").fetchone()[0]),
            "random": con.execute("SELECT random()").fetchone()[0],
        }
        cursor.close()
        con.close()
        Path(report).write_text(json.dumps(seen))

    if __name__ == "__main__":
        folder = Path(sys.argv[1])
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(PRELOAD)
        ducks = [
            context.Process(
                target=duck, args=(str(folder / f"r{i}.duckdb"), str(folder / f"{i}.json"))
            )
            for i in range(2)
        ]
        for process in ducks:
            process.start()
        for process in ducks:
            process.join(60)
        print(json.dumps([process.exitcode for process in ducks]))
    """
)


def test_forked_ducks_attach_their_databases_to_the_prepared_instance(tmp_path: Path) -> None:
    done = run_script(tmp_path, FORKED_DUCKS, str(tmp_path))
    assert done.returncode == 0, done.stderr
    # Closing a database on a forked instance must not crash the Duck (it does when the
    # instance had threads before the fork).
    assert json.loads(done.stdout) == [0, 0], done.stderr
    seen = [json.loads((tmp_path / f"{i}.json").read_text()) for i in range(2)]
    for i, duck in enumerate(seen):
        assert duck["was_prepared"] is True
        assert duck["database"] == duck["cursor_database"] == "registry"
        assert duck["cursor_rows"] == 100000
        assert int(duck["threads"]) >= 1 and int(duck["async_threads"]) >= 1
        assert duck["temp_directory"] == str(tmp_path / f"r{i}.duckdb") + ".tmp"
    # Reseeded after the fork: two Ducks never draw the same ids.
    assert seen[0]["uuid"] != seen[1]["uuid"]
    assert seen[0]["random"] != seen[1]["random"]
    for i in range(2):
        path = tmp_path / f"r{i}.duckdb"
        assert not Path(str(path) + ".wal").exists(), "closed without a checkpoint"
        with duckdb.connect(str(path), read_only=True) as con:
            assert con.execute("SELECT count(*) FROM t").fetchone() == (100000,)


def test_a_database_made_by_an_earlier_duck_opens_unchanged(tmp_path: Path) -> None:
    path = tmp_path / "registry.duckdb"
    with duckdb.connect(str(path)) as con:
        con.execute("CREATE TABLE orders AS SELECT 1 AS id")
        con.execute("CREATE TABLE customers AS SELECT 'a' AS name")
    con = open_registry(path)
    try:
        assert list_tables(con) == ["customers", "orders"]
        cursor = con.cursor()
        assert cursor.execute("SELECT id FROM orders").fetchall() == [(1,)]
        cursor.close()
    finally:
        con.close()


# A forked Duck that spills to disk, then leaves its database as a stopping Duck does: released
# for the exit, which (as for every forkserver child) is os._exit, so nothing closes it after.
RELEASED_DUCK = textwrap.dedent(
    """
    import json, multiprocessing, os, sys
    from pathlib import Path
    from duckstring.catchment.forkserver import PRELOAD

    def duck(path, report):
        from duckstring.duck import registry
        path = Path(path)
        con = registry.open_registry(path)
        con.execute("SET memory_limit = '16MB'")
        con.execute("SET threads = 1")
        con.execute(
            "CREATE TABLE t AS SELECT DISTINCT md5(range::VARCHAR) AS s FROM range(400000)"
        )
        spilled = registry.spill_folder(path).is_dir()
        registry.release(con, path)
        Path(report).write_text(json.dumps({"spilled": spilled}))

    if __name__ == "__main__":
        folder = Path(sys.argv[1])
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(PRELOAD)
        process = context.Process(
            target=duck, args=(str(folder / "registry.duckdb"), str(folder / "seen.json"))
        )
        process.start()
        process.join(60)
        print(json.dumps(process.exitcode))
    """
)


def test_a_released_database_is_checkpointed_and_its_spill_folder_removed(tmp_path: Path) -> None:
    done = run_script(tmp_path, RELEASED_DUCK, str(tmp_path))
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == 0, done.stderr
    assert json.loads((tmp_path / "seen.json").read_text()) == {"spilled": True}
    path = tmp_path / "registry.duckdb"
    assert not Path(f"{path}.wal").exists(), "left without a checkpoint"
    assert not Path(f"{path}.tmp").exists(), "the spill folder was left behind"
    with duckdb.connect(str(path), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM t").fetchone() == (400000,)


def test_release_closes_the_connection_when_it_cannot_checkpoint(tmp_path: Path) -> None:
    path = tmp_path / "registry.duckdb"
    con = open_registry(path)
    con.execute("CREATE TABLE t AS SELECT 1 AS n")
    con.close()  # a CHECKPOINT on a closed connection fails: release must not raise
    release(con, path)
    with duckdb.connect(str(path), read_only=True) as reopened:
        assert reopened.execute("SELECT n FROM t").fetchall() == [(1,)]
