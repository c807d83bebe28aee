import threading
import time
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pandas as pd
import polars as pl
import pyarrow as pa
import pytest

from duckstring.pond.handle import MissingTableError, Pond, swap_lock_for
from duckstring.pond.pins import Pins
from generations import publish_generation


@pytest.fixture
def working_db(tmp_path: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    con = duckdb.connect(str(tmp_path / "registry.duckdb"))
    yield con
    con.close()


def make_pond(con: duckdb.DuckDBPyConnection, tmp_path: Path) -> Pond:
    def resolve(source: str, table: str) -> Path:
        return tmp_path / "ponds" / source / "data" / f"{table}.parquet"

    return Pond("sales", "1.2.0", tmp_path, con, resolve, sources=["transactions"])


def table_names(con: duckdb.DuckDBPyConnection) -> list[str]:
    rows = con.execute("SELECT table_name FROM duckdb_tables() ORDER BY 1").fetchall()
    return [row[0] for row in rows]


def test_handle_exposes_identity(working_db: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    pond = make_pond(working_db, tmp_path)
    assert pond.name == "sales"
    assert str(pond.version) == "1.2.0" and pond.version.major == 1
    assert pond.root == tmp_path
    assert pond.con is working_db


@pytest.mark.parametrize(
    "kind", ["relation", "foreign_relation", "pandas", "polars", "arrow", "arrow_reader"]
)
def test_write_table_accepts_anything_duckdb_can_scan(
    working_db: duckdb.DuckDBPyConnection, tmp_path: Path, kind: str
) -> None:
    pond = make_pond(working_db, tmp_path)
    values = {"id": [1, 2, 3], "name": ["a", "b", "c"]}
    other = duckdb.connect()
    data = {
        "relation": lambda: pond.con.sql(
            "SELECT * FROM (VALUES (1, 'a'), (2, 'b'), (3, 'c')) v(id, name)"
        ),
        "foreign_relation": lambda: other.sql(
            "SELECT * FROM (VALUES (1, 'a'), (2, 'b'), (3, 'c')) v(id, name)"
        ),
        "pandas": lambda: pd.DataFrame(values),
        "polars": lambda: pl.DataFrame(values),
        "arrow": lambda: pa.table(values),
        "arrow_reader": lambda: pa.table(values).to_reader(),
    }[kind]()
    pond.write_table("items", data)
    assert pond.read_table("items").order("id").fetchall() == [(1, "a"), (2, "b"), (3, "c")]
    assert pond.tables_written == ["items"]
    assert table_names(working_db) == ["items"]


def test_write_table_rejects_sql_text_and_bad_names(
    working_db: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    pond = make_pond(working_db, tmp_path)
    with pytest.raises(TypeError, match="not SQL text"):
        pond.write_table("items", "SELECT 1")
    with pytest.raises(TypeError, match="cannot scan a object"):
        pond.write_table("items", object())
    with pytest.raises(ValueError, match="not allowed"):
        pond.write_table("../items", pd.DataFrame({"a": [1]}))
    with pytest.raises(ValueError, match="reserved"):
        pond.write_table("__duckstring_x", pd.DataFrame({"a": [1]}))
    assert table_names(working_db) == []


def test_a_failing_build_keeps_the_old_table_and_leaves_nothing_behind(
    working_db: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    pond = make_pond(working_db, tmp_path)
    pond.write_table("items", pond.con.sql("SELECT 1 AS id"))
    with pytest.raises(duckdb.Error, match="boom"):
        pond.write_table("items", pond.con.sql("SELECT error('boom') AS id"))
    assert pond.read_table("items").fetchall() == [(1,)]
    assert table_names(working_db) == ["items"]


def test_read_own_missing_table_says_so(
    working_db: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    pond = make_pond(working_db, tmp_path)
    assert not pond.has_table("items")
    with pytest.raises(MissingTableError, match="'sales' has no table 'items'"):
        pond.read_table("items")


def test_read_source_table_comes_from_its_published_parquet(
    working_db: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    pond = make_pond(working_db, tmp_path)
    with pytest.raises(FileNotFoundError, match="'transactions' has no published table 'lines'"):
        pond.read_table("transactions.lines")
    data_dir = tmp_path / "ponds" / "transactions" / "data"
    data_dir.mkdir(parents=True)
    duckdb.sql("SELECT range AS id FROM range(5)").write_parquet(str(data_dir / "lines.parquet"))
    assert pond.read_table("transactions.lines").aggregate("sum(id)").fetchall() == [(10,)]
    with pytest.raises(LookupError, match="'products' is not a Source"):
        pond.read_table("products.items")
    pond.write_table("own", pond.con.sql("SELECT 7 AS x"))
    assert pond.read_table("sales.own").fetchall() == [(7,)]


def test_readers_see_the_old_or_the_new_table_never_a_mix(
    working_db: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    # Generation g has 2000 + 37 * g rows, every one tagged g. A reader that ever sees rows of
    # two generations, or a count that does not match its generation, saw a partial swap.
    pond = make_pond(working_db, tmp_path)

    def generation(g: int) -> duckdb.DuckDBPyRelation:
        return writer.con.sql(f"SELECT range AS id, {g} AS gen FROM range({2000 + 37 * g})")

    writer = pond.for_thread()
    writer.write_table("lines", generation(0))
    stop = threading.Event()
    seen: list[tuple[int, int, int]] = []
    failures: list[BaseException] = []

    def read() -> None:
        reader = pond.for_thread()
        try:
            while not stop.is_set():
                rows = reader.read_table("lines").aggregate("count(*), min(gen), max(gen)")
                seen.append(rows.fetchall()[0])
        except BaseException as error:  # surfaced below
            failures.append(error)

    readers = [threading.Thread(target=read) for _ in range(4)]
    for thread in readers:
        thread.start()
    for g in range(1, 60):
        writer.write_table("lines", generation(g))
    stop.set()
    for thread in readers:
        thread.join()
    assert not failures
    assert len(seen) > 20
    for count, low, high in seen:
        assert low == high, "a reader saw rows of two generations"
        assert count == 2000 + 37 * low, "a reader saw a partial table"
    assert len({gen for _, gen, _ in seen}) > 1, "readers never observed a swap"


def test_concurrent_sibling_writes_queue_instead_of_failing(
    working_db: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    pond = make_pond(working_db, tmp_path)
    failures: list[BaseException] = []
    start = threading.Barrier(16)

    def ripple(index: int) -> None:
        sibling = pond.for_thread()
        try:
            start.wait()
            for round_ in range(8):
                data = sibling.con.sql(f"SELECT {index} AS writer, {round_} AS round_")
                sibling.write_table(f"own_{index}", data)
                sibling.write_table("shared", data)
        except BaseException as error:  # surfaced below
            failures.append(error)

    threads = [threading.Thread(target=ripple, args=(i,)) for i in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    assert sorted(table_names(working_db)) == sorted(["shared", *(f"own_{i}" for i in range(16))])
    for index in range(16):
        assert pond.read_table(f"own_{index}").fetchall() == [(index, 7)]
    assert pond.read_table("shared").count("*").fetchall() == [(1,)]


def test_a_write_waits_out_a_conflicting_transaction_and_then_succeeds(
    working_db: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    pond = make_pond(working_db, tmp_path)
    pond.write_table("items", pond.con.sql("SELECT 1 AS id"))
    # Another cursor changes the table and holds its transaction open, outside the swap lock.
    other = working_db.cursor()
    other.execute("BEGIN TRANSACTION")
    other.execute("DROP TABLE items")
    release = threading.Timer(0.4, lambda: other.execute("ROLLBACK"))
    release.start()
    started = time.monotonic()
    writer = pond.for_thread()
    writer.write_table("items", writer.con.sql("SELECT 2 AS id"))
    release.join()
    assert time.monotonic() - started >= 0.35
    assert pond.read_table("items").fetchall() == [(2,)]
    assert table_names(working_db) == ["items"]


def test_a_conflict_that_never_clears_fails_after_the_timeout(
    working_db: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    pond = Pond("sales", "1.0.0", tmp_path, working_db, lambda s, t: tmp_path, conflict_timeout=0.2)
    pond.write_table("items", pond.con.sql("SELECT 1 AS id"))
    other = working_db.cursor()
    other.execute("BEGIN TRANSACTION")
    other.execute("DROP TABLE items")
    writer = pond.for_thread()
    with pytest.raises(duckdb.TransactionException):
        writer.write_table("items", writer.con.sql("SELECT 2 AS id"))
    other.execute("ROLLBACK")
    assert table_names(working_db) == ["items"]


def test_a_write_inside_the_authors_open_transaction_fails_at_once(
    working_db: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    pond = make_pond(working_db, tmp_path)
    pond.con.execute("BEGIN TRANSACTION")
    started = time.monotonic()
    with pytest.raises(RuntimeError, match="commit or roll back the transaction open"):
        pond.write_table("items", pond.con.sql("SELECT 1 AS id"))
    assert time.monotonic() - started < 5
    pond.con.execute("ROLLBACK")
    assert table_names(working_db) == []


def source_table_path(tmp_path: Path) -> Path:
    """Where ``make_pond``'s Source ``transactions`` publishes its table ``lines``."""
    path = tmp_path / "ponds" / "transactions" / "data" / "lines.parquet"
    path.parent.mkdir(parents=True)
    return path


def test_a_source_table_reads_as_one_snapshot_until_the_handle_closes(
    working_db: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    path = source_table_path(tmp_path)
    publish_generation(working_db, path, 1)
    handle = make_pond(working_db, tmp_path).for_thread()
    planned = handle.read_table("transactions.lines")
    publish_generation(working_db, path, 2)  # the Source publishes while the Ripple still runs
    assert planned.aggregate("count(*), max(gen)").fetchall() == [(1053, 1)]
    again = handle.read_table("transactions.lines")
    assert again.aggregate("count(*), max(gen)").fetchall() == [(1053, 1)]
    handle.close()
    later = make_pond(working_db, tmp_path).for_thread()
    assert later.read_table("transactions.lines").aggregate("max(gen)").fetchall() == [(2,)]
    later.close()


def test_reading_a_source_while_it_publishes_never_fails(
    working_db: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    # DuckDB opens a file by path to plan a query and again to scan it: without a pinned
    # snapshot a reader racing a publish fails with "invalid TType" and the like.
    path = source_table_path(tmp_path)
    publish_generation(working_db, path, 0)
    stop = threading.Event()

    def keep_publishing() -> None:
        con = duckdb.connect()
        g = 0
        while not stop.is_set():
            g += 1
            publish_generation(con, path, g)
        con.close()

    publisher = threading.Thread(target=keep_publishing)
    publisher.start()
    seen: list[tuple[int, int, int]] = []
    try:
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline:
            handle = make_pond(working_db, tmp_path).for_thread()
            try:
                handle.write_table("copy", handle.read_table("transactions.lines"))
                seen.append(
                    handle.read_table("copy")
                    .aggregate("count(*), min(gen), max(gen)")
                    .fetchall()[0]
                )
            finally:
                handle.close()
    finally:
        stop.set()
        publisher.join()
    assert len({gen for _, gen, _ in seen}) > 1, "the reader never saw a new publish"
    for count, low, high in seen:
        assert low == high and count == 1000 + 53 * low


def test_pins_explain_names_each_pinned_descriptor_by_its_path(tmp_path: Path) -> None:
    first, second = tmp_path / "a.parquet", tmp_path / "b.parquet"
    first.write_bytes(b"1")
    second.write_bytes(b"2")
    pins = Pins()
    a, b = pins.path(first), pins.path(second)
    fd = int(a.removeprefix("/dev/fd/"))
    others = f"/dev/fd/{fd}0 or /dev/fd/999999"  # not pinned: left as they are
    assert pins.explain(f"cannot read {a}; nor {b}; nor {others}") == (
        f"cannot read {first}; nor {second}; nor {others}"
    )
    pins.release()
    assert pins.explain(a) == a


def test_a_database_file_has_one_swap_lock_however_it_is_named(tmp_path: Path) -> None:
    """A Duck names its working database's file; a Pond handle asks the catalog. Both must get
    the same lock, or two swaps into one file could interleave."""
    (tmp_path / "sub").mkdir()
    con = duckdb.connect(str(tmp_path / "registry.duckdb"))
    try:
        by_catalog = swap_lock_for(con)
        assert swap_lock_for(con, tmp_path / "sub" / ".." / "registry.duckdb") is by_catalog
        assert swap_lock_for(con, tmp_path / "other.duckdb") is not by_catalog
    finally:
        con.close()
