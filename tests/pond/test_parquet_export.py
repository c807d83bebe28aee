import threading
from pathlib import Path

import duckdb
import pytest

from duckstring.pond.export import copy_to_parquet, export_tables, list_tables
from duckstring.pond.handle import Pond


def test_every_table_is_exported_and_the_folder_mirrors_the_database(tmp_path: Path) -> None:
    con = duckdb.connect(str(tmp_path / "registry.duckdb"))
    con.execute("CREATE TABLE lines AS SELECT range AS id FROM range(10)")
    con.execute("CREATE TABLE tiers AS SELECT 'gold' AS tier")
    con.execute("CREATE TABLE __duckstring_staging_abc AS SELECT 1 AS x")
    con.execute("CREATE VIEW recent AS SELECT * FROM lines WHERE id > 5")
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    (data_dir / "dropped.parquet").write_bytes(b"old table, no longer in the database")

    exported = export_tables(con, data_dir)

    assert [(item.name, item.rows) for item in exported] == [("lines", 10), ("tiers", 1)]
    assert sorted(p.name for p in data_dir.iterdir()) == ["lines.parquet", "tiers.parquet"]
    assert duckdb.sql(f"SELECT sum(id) FROM '{data_dir / 'lines.parquet'}'").fetchall() == [(45,)]
    con.close()


def test_only_the_base_tables_of_main_in_the_working_database_are_listed(tmp_path: Path) -> None:
    con = duckdb.connect(str(tmp_path / "registry.duckdb"))
    for name in ("zeta", "Alpha", "beta", "__duckstring_staging_1"):
        con.execute(f'CREATE TABLE "{name}" AS SELECT 1 AS n')
    con.execute("CREATE VIEW gamma AS SELECT 1 AS n")
    con.execute("CREATE SCHEMA scratch")
    con.execute("CREATE TABLE scratch.delta AS SELECT 1 AS n")
    con.execute("CREATE TEMP TABLE epsilon AS SELECT 1 AS n")
    con.execute(f"ATTACH '{tmp_path / 'other.duckdb'}' AS other")
    con.execute("CREATE TABLE other.main.eta AS SELECT 1 AS n")

    assert list_tables(con) == ["Alpha", "beta", "zeta"]
    con.execute("USE other")
    assert list_tables(con) == ["eta"]
    con.close()


def test_export_leaves_the_callers_connection_usable(tmp_path: Path) -> None:
    con = duckdb.connect(str(tmp_path / "registry.duckdb"))
    con.execute("CREATE TABLE lines AS SELECT 1 AS id")
    export_tables(con, tmp_path / "data")
    con.execute("BEGIN TRANSACTION")
    con.execute("INSERT INTO lines VALUES (2)")
    con.execute("COMMIT")
    assert con.execute("SELECT count(*) FROM lines").fetchall() == [(2,)]
    con.close()


def test_a_failed_copy_leaves_the_old_file_and_no_temporary(tmp_path: Path) -> None:
    con = duckdb.connect()
    destination = tmp_path / "lines.parquet"
    copy_to_parquet(con, "SELECT 1 AS id", destination)
    with pytest.raises(duckdb.Error, match="boom"):
        copy_to_parquet(con, "SELECT error('boom') AS id FROM range(3)", destination)
    assert [p.name for p in tmp_path.iterdir()] == ["lines.parquet"]
    assert duckdb.sql(f"SELECT id FROM '{destination}'").fetchall() == [(1,)]


def test_a_reader_polling_the_parquet_path_never_sees_a_half_written_file(
    tmp_path: Path,
) -> None:
    # Generation g has 200_000 + g rows, every one tagged g; each export rewrites the file.
    con = duckdb.connect(str(tmp_path / "registry.duckdb"))
    pond = Pond("sales", "1.0.0", tmp_path, con, lambda s, t: tmp_path / s / t)
    data_dir = tmp_path / "data"
    path = data_dir / "lines.parquet"
    pond.write_table("lines", con.sql("SELECT range AS id, 0 AS gen FROM range(200000)"))
    export_tables(con, data_dir)
    stop = threading.Event()
    seen: list[tuple[int, int, int]] = []
    failures: list[BaseException] = []

    def poll() -> None:
        reader = duckdb.connect()
        try:
            while not stop.is_set():
                query = f"SELECT count(*), min(gen), max(gen) FROM read_parquet('{path}')"
                seen.append(reader.execute(query).fetchall()[0])
        except BaseException as error:  # surfaced below
            failures.append(error)

    readers = [threading.Thread(target=poll) for _ in range(2)]
    for thread in readers:
        thread.start()
    for g in range(1, 25):
        generation = con.sql(f"SELECT range AS id, {g} AS gen FROM range({200000 + g})")
        pond.write_table("lines", generation)
        export_tables(con, data_dir)
    stop.set()
    for thread in readers:
        thread.join()
    con.close()
    assert failures == []
    assert len(seen) > 10
    for count, low, high in seen:
        assert low == high and count == 200000 + low
    assert len({low for _, low, _ in seen}) > 1, "the reader never observed a new export"
    assert sorted(p.name for p in data_dir.iterdir()) == ["lines.parquet"]
