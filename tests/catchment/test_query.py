import csv
import json
import os
import tempfile
import threading
import time
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import pytest

from duckstring.catchment import query
from duckstring.catchment.query import (
    MEDIA_TYPES,
    NoSnapshotError,
    QueryError,
    QueryLimits,
    connect_confined,
    published_tables,
    ripple_archive,
    run_query,
)
from duckstring.layout import RootLayout
from duckstring.pond.export import copy_to_parquet
from generations import publish_generation


@dataclass
class Root:
    layout: RootLayout
    outside: Path  # a folder outside the root, where nothing may appear

    def snapshot(self) -> dict[str, bytes]:
        return {
            path.relative_to(self.layout.root).as_posix(): path.read_bytes()
            for path in sorted(self.layout.root.rglob("*"))
            if path.is_file()
        }


def publish(layout: RootLayout, pond: str, major: int, table: str, select: str) -> Path:
    path = layout.table(pond, major, table)
    path.parent.mkdir(parents=True, exist_ok=True)
    with duckdb.connect() as con:
        con.execute(f"COPY ({select}) TO '{path}' (FORMAT parquet)")
    return path


@pytest.fixture
def root(tmp_path: Path) -> Iterator[Root]:
    layout = RootLayout(tmp_path / "root")
    publish(
        layout,
        "sales",
        1,
        "orders",
        "SELECT range AS id, 'c' || (range % 3) AS customer, "
        "(range * 1.5)::DECIMAL(10,2) AS amount FROM range(20)",
    )
    publish(layout, "sales", 1, "totals", "SELECT 'c0' AS customer, 45 AS total")
    layout.ledger("sales", 1).write_text("the worker's ledger, not published")
    publish(layout, "sales", 2, "secret", "SELECT 'major 2 only' AS note")
    publish(layout, "payroll", 1, "salaries", "SELECT 'alice' AS name, 99000 AS salary")
    outside = tmp_path / "outside"
    outside.mkdir()
    yield Root(layout, outside)


# -- reading the line -------------------------------------------------------------------------


def test_views_answer_by_bare_and_pond_qualified_names(root: Root) -> None:
    result = run_query(
        root.layout,
        "sales",
        1,
        "SELECT o.customer, sum(o.amount) AS spent, any_value(t.total) AS total "
        "FROM orders o LEFT JOIN sales.totals t USING (customer) GROUP BY 1 ORDER BY 1",
    )
    assert result.columns == ["customer", "spent", "total"]
    assert result.rows == [["c0", "94.50", 45], ["c1", "105.00", None], ["c2", "85.50", None]]
    assert result.truncated is False
    assert result.path is None
    assert result.tables == ["orders", "totals"]


def test_show_tables_lists_only_the_lines_tables(root: Root) -> None:
    result = run_query(root.layout, "sales", 1, "SHOW ALL TABLES")
    names = {(row[1], row[2]) for row in result.rows or []}
    assert names == {
        ("main", "orders"),
        ("main", "totals"),
        ("sales", "orders"),
        ("sales", "totals"),
    }


def test_a_ripple_alone_previews_ten_rows(root: Root) -> None:
    result = run_query(root.layout, "sales", 1, None, "orders")
    assert result.columns == ["id", "customer", "amount"]
    assert [row[0] for row in result.rows or []] == list(range(10))


def test_json_rows_are_bounded_and_say_so(root: Root) -> None:
    result = run_query(
        root.layout, "sales", 1, "SELECT id FROM orders ORDER BY id", limits=QueryLimits(max_rows=5)
    )
    assert result.rows == [[0], [1], [2], [3], [4]]
    assert result.truncated is True


def test_records_are_objects_keyed_in_column_order(root: Root) -> None:
    result = run_query(root.layout, "sales", 1, "SELECT customer, id FROM orders WHERE id < 2")
    assert result.records() == [{"customer": "c0", "id": 0}, {"customer": "c1", "id": 1}]
    assert [list(record) for record in result.records()] == [["customer", "id"]] * 2
    assert run_query(root.layout, "sales", 1, "SELECT id FROM orders WHERE false").records() == []


@pytest.mark.parametrize(
    "names",
    [
        ["a", "a"],
        ["a", "a", "a"],
        ["a", "A", "a", "a_1"],
        ["a", "a", "a_1", "A"],
        ["x_1", "x", "x", "X_1", "x"],
    ],
)
def test_repeated_names_become_the_header_a_file_of_the_result_has(
    root: Root, names: list[str]
) -> None:
    sql = "SELECT " + ", ".join(f'{index} AS "{name}"' for index, name in enumerate(names))
    result = run_query(root.layout, "sales", 1, sql)
    file = run_query(root.layout, "sales", 1, sql, fmt="csv").path
    assert file is not None
    try:
        header = file.read_text().splitlines()[0].split(",")
    finally:
        file.unlink()
    assert result.columns == names
    assert result.keys == header and len(set(header)) == len(names)
    assert result.records() == [dict(zip(header, range(len(names)), strict=True))]


def test_values_become_json_safe(root: Root) -> None:
    publish(
        root.layout,
        "sales",
        1,
        "kinds",
        "SELECT TIMESTAMPTZ '2024-03-01 12:30:00+02' AS at, TIMESTAMP '2024-03-01 12:30:00' AS ts, "
        "DATE '2024-03-01' AS day, TIME '08:15:00' AS clock, 12.345::DECIMAL(9,3) AS price, "
        "'\\x00\\xFF'::BLOB AS raw, 'NaN'::DOUBLE AS nan, 'inf'::DOUBLE AS inf, "
        "[1, 2] AS list, {'a': DATE '2024-01-01'} AS struct, "
        "'6b0f0a8e-0d3e-4c8f-9a4f-6f7b6e2b1c11'::UUID AS id, INTERVAL 90 MINUTE AS span, "
        "[TIMESTAMPTZ '2024-03-01 12:30:00+00'] AS stamps",
    )
    result = run_query(root.layout, "sales", 1, "SELECT * FROM kinds")
    row = dict(zip(result.columns, (result.rows or [[]])[0], strict=True))
    assert row == {
        "at": "2024-03-01T10:30:00+00:00",
        "ts": "2024-03-01T12:30:00",
        "day": "2024-03-01",
        "clock": "08:15:00",
        "price": "12.345",
        "raw": "AP8=",
        "nan": None,
        "inf": None,
        "list": [1, 2],
        "struct": {"a": "2024-01-01"},
        "id": "6b0f0a8e-0d3e-4c8f-9a4f-6f7b6e2b1c11",
        "span": "1:30:00",
        "stamps": "['2024-03-01 12:30:00+00']",
    }
    json.dumps(result.rows, allow_nan=False)  # strict JSON, as a web response needs


def test_a_pond_name_with_a_dash_is_a_quoted_schema(root: Root) -> None:
    publish(root.layout, "daily-sales", 1, "days", "SELECT 1 AS n")
    result = run_query(root.layout, "daily-sales", 1, 'SELECT n FROM "daily-sales".days')
    assert result.rows == [[1]]


# -- errors -----------------------------------------------------------------------------------


def test_an_sql_error_carries_duckdbs_message(root: Root) -> None:
    with pytest.raises(QueryError, match="Table with name nope does not exist"):
        run_query(root.layout, "sales", 1, "SELECT * FROM nope")
    with pytest.raises(QueryError, match="Parser Error"):
        run_query(root.layout, "sales", 1, "SELEC 1")
    with pytest.raises(QueryError, match="send sql, or a ripple"):
        run_query(root.layout, "sales", 1, "   ")
    with pytest.raises(QueryError, match="exactly one SQL statement"):
        run_query(root.layout, "sales", 1, "-- only a comment")


def test_another_lines_table_is_unknown_here(root: Root) -> None:
    with pytest.raises(QueryError, match="secret"):
        run_query(root.layout, "sales", 1, "SELECT * FROM secret")
    with pytest.raises(QueryError, match="salaries"):
        run_query(root.layout, "sales", 1, "SELECT * FROM payroll.salaries")


def test_nothing_published_is_a_no_snapshot_error(root: Root) -> None:
    with pytest.raises(NoSnapshotError, match="published no tables"):
        run_query(root.layout, "sales", 3, "SELECT 1")
    with pytest.raises(NoSnapshotError, match="published no tables"):
        run_query(root.layout, "unknown", 1, "SELECT 1")
    with pytest.raises(NoSnapshotError, match="nothing for Ripple 'audit'"):
        run_query(root.layout, "sales", 1, None, "audit")


def test_a_runaway_query_is_interrupted(root: Root) -> None:
    endless = "SELECT sum(a.range * b.range) FROM range(1000000000) a, range(1000) b"
    for fmt in (None, "csv"):
        with pytest.raises(QueryError, match=r"query exceeded 0.5 s"):
            run_query(root.layout, "sales", 1, endless, fmt=fmt, limits=QueryLimits(timeout=0.5))


def test_memory_is_bounded(root: Root) -> None:
    hungry = "SELECT count(DISTINCT md5(range::VARCHAR)) FROM range(5000000)"
    with pytest.raises(QueryError, match="Out of Memory"):
        run_query(root.layout, "sales", 1, hungry, limits=QueryLimits(memory_limit="32MB"))


# -- confinement ------------------------------------------------------------------------------


def hostile_queries(root: Root) -> list[str]:
    layout, outside = root.layout, root.outside
    orders = layout.table("sales", 1, "orders")
    return [
        "SELECT * FROM read_csv('/etc/passwd')",
        "SELECT * FROM read_text('/etc/passwd')",
        "SELECT * FROM glob('/etc/*')",
        f"SELECT * FROM read_parquet('{layout.table('sales', 2, 'secret')}')",
        f"SELECT * FROM read_parquet('{orders.parent}/../../m2/data/secret.parquet')",
        f"SELECT * FROM read_parquet('{layout.table('payroll', 1, 'salaries')}')",
        f"SELECT * FROM read_text('{layout.ledger('sales', 1)}')",
        "SELECT * FROM read_parquet('https://example.com/x.parquet')",
        f"COPY orders TO '{outside}/stolen.csv'",
        f"COPY (SELECT 1 AS id) TO '{orders}' (FORMAT parquet, USE_TMP_FILE false)",
        f"SELECT 1; COPY orders TO '{outside}/stolen.csv'",
        f"EXPORT DATABASE '{outside}/export'",
        f"ATTACH '{outside}/new.duckdb'",
        "ATTACH ':memory:' AS scratch",
        "INSTALL httpfs",
        "LOAD httpfs",
        "SET enable_external_access = true",
        "RESET memory_limit",
        "PRAGMA threads = 64",
        "CREATE TABLE copied AS SELECT * FROM orders",
        "CREATE OR REPLACE VIEW orders AS SELECT 1",
        "DROP VIEW orders",
        "CREATE PERSISTENT SECRET s (TYPE http)",
        "CALL enable_logging()",
    ]


def test_sql_can_read_the_lines_snapshots_and_nothing_else(root: Root) -> None:
    before = root.snapshot()
    for sql in hostile_queries(root):
        with pytest.raises(QueryError):
            run_query(root.layout, "sales", 1, sql)
            pytest.fail(f"not refused: {sql}")
    assert root.snapshot() == before
    assert list(root.outside.iterdir()) == []
    # The views still work after all that.
    assert run_query(root.layout, "sales", 1, "SELECT count(*) FROM orders").rows == [[20]]


def test_only_a_single_select_runs(root: Root) -> None:
    with pytest.raises(QueryError, match="only SELECT queries run here; COPY"):
        run_query(root.layout, "sales", 1, f"COPY orders TO '{root.outside}/x.csv'")
    with pytest.raises(QueryError, match="exactly one SQL statement"):
        run_query(root.layout, "sales", 1, "SELECT 1; SELECT 2")


def test_the_connection_itself_is_confined_without_the_select_check(root: Root) -> None:
    """DuckDB's own settings refuse these even when the statement check is bypassed."""
    layout, outside = root.layout, root.outside
    con = connect_confined("sales", published_tables(layout, "sales", 1))
    frame = pd.DataFrame({"salary": [1]})  # a server-side Python object, not to be scanned
    assert len(frame) == 1
    refused = {
        "SELECT * FROM read_csv('/etc/passwd')": "Permission Error",
        f"SELECT * FROM read_parquet('{layout.table('sales', 2, 'secret')}')": "Permission Error",
        f"SELECT * FROM read_text('{layout.ledger('sales', 1)}')": "Permission Error",
        f"COPY orders TO '{outside}/stolen.csv'": "Permission Error",
        f"COPY orders TO '{layout.data('sales', 1)}/extra.csv'": "Permission Error",
        f"EXPORT DATABASE '{outside}/export'": "Permission Error",
        f"ATTACH '{outside}/new.duckdb'": "Permission Error",
        "INSTALL httpfs": "Permission Error",
        "LOAD httpfs": "Loading external extensions is disabled",
        "SET enable_external_access = true": "configuration has been locked",
        "SET allowed_directories = ['/']": "configuration has been locked",
        "SET lock_configuration = false": "configuration has been locked",
        "RESET memory_limit": "configuration has been locked",
        "PRAGMA threads = 64": "configuration has been locked",
        "SET temp_directory = '/tmp'": "configuration has been locked",
        "SELECT * FROM frame": "Table with name frame does not exist",
    }
    try:
        for sql, message in refused.items():
            with pytest.raises(duckdb.Error, match=message):
                con.sql(sql)
                pytest.fail(f"not refused: {sql}")
        assert con.sql("SELECT count(*) FROM sales.orders").fetchall() == [(20,)]
        settings = dict(
            con.sql(
                "SELECT name, value FROM duckdb_settings() WHERE name IN ('threads', "
                "'enable_external_access', 'autoload_known_extensions', "
                "'autoinstall_known_extensions', 'lock_configuration', 'temp_directory')"
            ).fetchall()
        )
        assert settings == {
            "threads": "2",
            "enable_external_access": "false",
            "autoload_known_extensions": "false",
            "autoinstall_known_extensions": "false",
            "lock_configuration": "true",
            "temp_directory": "",
        }
    finally:
        con.close()
    assert list(outside.iterdir()) == []


def test_duckdb_alone_would_let_sql_overwrite_an_allowed_snapshot(root: Root) -> None:
    """Why the single-SELECT check exists: allowed_paths grants writes to the allowed files too.

    If a DuckDB upgrade makes this refuse, the settings alone suffice; until then the statement
    check is what keeps the published files read-only.
    """
    orders = root.layout.table("sales", 1, "orders")
    con = connect_confined("sales", {"orders": orders})
    try:
        con.execute(f"COPY (SELECT 7 AS id) TO '{orders}' (FORMAT parquet, USE_TMP_FILE false)")
    finally:
        con.close()
    with duckdb.connect() as reader:
        assert reader.sql(f"SELECT id FROM '{orders}'").fetchall() == [(7,)]


# -- files ------------------------------------------------------------------------------------


def test_results_as_csv_json_and_parquet_files(root: Root) -> None:
    sql = "SELECT id, customer FROM orders WHERE id < 3 ORDER BY id"
    made = []
    try:
        csv_result = run_query(root.layout, "sales", 1, sql, fmt="csv")
        made.append(csv_result.path)
        assert csv_result.media_type == MEDIA_TYPES["csv"] == "text/csv"
        assert csv_result.path is not None and csv_result.rows is None
        with open(csv_result.path, newline="") as handle:
            assert list(csv.reader(handle)) == [
                ["id", "customer"],
                ["0", "c0"],
                ["1", "c1"],
                ["2", "c2"],
            ]

        json_result = run_query(root.layout, "sales", 1, sql, fmt="json")
        made.append(json_result.path)
        assert json_result.media_type == "application/x-ndjson"
        assert json_result.path is not None
        lines = json_result.path.read_text().splitlines()
        assert [json.loads(line) for line in lines] == [
            {"id": 0, "customer": "c0"},
            {"id": 1, "customer": "c1"},
            {"id": 2, "customer": "c2"},
        ]

        parquet_result = run_query(root.layout, "sales", 1, None, "totals", fmt="parquet")
        made.append(parquet_result.path)
        assert parquet_result.media_type == "application/vnd.apache.parquet"
        assert parquet_result.columns == ["customer", "total"]
        with duckdb.connect() as reader:
            rows = reader.sql(f"SELECT * FROM '{parquet_result.path}'").fetchall()
        assert rows == [("c0", 45)]
    finally:
        for path in made:
            if path is not None:
                path.unlink()


def test_a_failed_export_leaves_no_file(
    root: Root, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A temporary folder of its own: other processes use the shared one meanwhile.
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    with pytest.raises(QueryError):
        run_query(root.layout, "sales", 1, "SELECT 1/0 AS x, error('boom')", fmt="parquet")
    assert list(scratch.iterdir()) == []


# -- a Ripple's output ------------------------------------------------------------------------


def test_ripple_archive_zips_the_ripples_table(root: Root) -> None:
    archive = ripple_archive(root.layout, "sales", 1, "orders")
    assert archive is not None
    try:
        with zipfile.ZipFile(archive) as opened:
            assert opened.namelist() == ["orders.parquet"]
            content = opened.read("orders.parquet")
        assert content == root.layout.table("sales", 1, "orders").read_bytes()
    finally:
        archive.unlink()


def test_ripple_archive_is_none_before_the_first_export(root: Root) -> None:
    assert ripple_archive(root.layout, "sales", 1, "audit") is None
    assert ripple_archive(root.layout, "sales", 7, "orders") is None
    assert ripple_archive(root.layout, "nobody", 1, "orders") is None
    assert ripple_archive(root.layout, "sales", 1, "../m2/data/secret") is None


def test_a_query_cannot_read_another_open_file_through_dev_fd(root: Root) -> None:
    other = os.open(root.layout.table("payroll", 1, "salaries"), os.O_RDONLY)
    try:
        with pytest.raises(QueryError, match="Permission Error"):
            run_query(root.layout, "sales", 1, f"SELECT * FROM read_parquet('/dev/fd/{other}')")
    finally:
        os.close(other)


# -- snapshots --------------------------------------------------------------------------------


def test_a_query_racing_a_publish_reads_one_whole_snapshot(root: Root) -> None:
    # DuckDB opens a file by path to plan and again to scan: without a pinned snapshot a query
    # racing a publish reads one file's footer and the next one's bytes ("invalid TType").
    path = root.layout.table("sales", 1, "orders")

    with duckdb.connect() as con:
        publish_generation(con, path, 0)
    stop = threading.Event()

    def keep_publishing() -> None:
        with duckdb.connect() as con:
            generation = 0
            while not stop.is_set():
                generation += 1
                publish_generation(con, path, generation)

    publisher = threading.Thread(target=keep_publishing)
    publisher.start()
    seen: list[list[int]] = []
    try:
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline:
            result = run_query(
                root.layout,
                "sales",
                1,
                "SELECT count(*), min(gen), max(gen), (SELECT count(*) FROM orders) FROM orders",
            )
            assert result.rows is not None
            seen.append(result.rows[0])
    finally:
        stop.set()
        publisher.join()
    generations = {low for _, low, _, _ in seen}
    assert len(generations) > 1, "the query never saw a new publish"
    for count, low, high, again in seen:
        assert low == high and count == again == 1000 + 53 * low


def test_an_error_names_the_published_file_not_its_pinned_descriptor(root: Root) -> None:
    path = root.layout.table("sales", 1, "orders")
    path.write_bytes(b"not parquet at all")
    with pytest.raises(QueryError) as raised:
        run_query(root.layout, "sales", 1, "SELECT count(*) FROM orders")
    assert str(path) in str(raised.value)
    assert "/dev/fd/" not in str(raised.value)


def test_a_publish_between_pinning_and_scanning_leaves_the_query_its_table(
    root: Root, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The publish unlinks the pinned file: a /dev/fd path no longer resolves, and DuckDB
    # refused the query its own table ("Permission Error: Cannot access file").
    path = root.layout.table("sales", 1, "orders")
    connect = query.connect_confined

    def connect_then_publish(*args: Any, **kwargs: Any) -> duckdb.DuckDBPyConnection:
        con = connect(*args, **kwargs)
        with duckdb.connect() as other:
            copy_to_parquet(other, "SELECT 99 AS id", path, sync=False)
        return con

    monkeypatch.setattr(query, "connect_confined", connect_then_publish)
    result = run_query(root.layout, "sales", 1, "SELECT count(*), max(id) FROM orders")
    assert result.rows == [[20, 19]]  # the snapshot pinned before the publish
    assert run_query(root.layout, "sales", 1, "SELECT count(*) FROM orders").rows == [[1]]


def test_a_query_leaves_no_file_behind_but_its_result(
    root: Root, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    assert run_query(root.layout, "sales", 1, "SELECT count(*) FROM orders").rows == [[20]]
    with pytest.raises(QueryError):
        run_query(root.layout, "sales", 1, "SELECT * FROM nope")
    path = run_query(root.layout, "sales", 1, "SELECT * FROM orders", fmt="csv").path
    assert path is not None
    assert [p.name for p in scratch.iterdir()] == [path.name]  # only the result file
