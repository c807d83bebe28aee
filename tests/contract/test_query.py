"""``POST /api/query`` on a real Catchment: without a format the answer is a JSON array of row
objects, keys in column order, and nothing else changes shape; a capped answer says so in
``X-Duckstring-Truncated``; files still come back in csv, json and parquet; and the CLI reads
the same answer."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pyarrow.parquet as pq
import pytest

from contract.conftest import deploy, line
from e2e.server import Server, children_of

TRUNCATED = "X-Duckstring-Truncated"
COLUMNS = "X-Duckstring-Columns"

#: An Inlet publishing ``numbers`` (n = 0..24, with a label), ``kinds`` (one row of values
#: that JSON has no type for) and ``nothing`` (no rows).
TABLES = """
@ripple
def numbers(pond):
    pond.write_table(
        "numbers", pond.con.sql("SELECT range AS n, 'n' || range AS label FROM range(25)")
    )


@ripple
def kinds(pond):
    pond.write_table(
        "kinds",
        pond.con.sql(
            "SELECT 12.50::DECIMAL(9,2) AS price, DATE '2024-03-01' AS day, "
            "TIMESTAMPTZ '2024-03-01 12:30:00+02' AS at, 'NaN'::DOUBLE AS ratio, "
            "[1, 2] AS list, {'a': 1} AS struct"
        ),
    )


@ripple
def nothing(pond):
    pond.write_table("nothing", pond.con.sql("SELECT 1 AS a, 'b' AS b WHERE false"))
"""


@pytest.fixture(scope="module")
def catchment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One Catchment for the module, with ``nums`` deployed and published once."""
    folder = tmp_path_factory.mktemp("query")
    running = Server(root=folder / "root", home=folder / "home")
    running.start()
    try:
        deploy(running, folder / "projects", "nums", TABLES, kind="inlet")
        with running.client() as client:
            assert client.post("/ponds/nums/pulse").json() == {"ok": True}
        running.wait_for(
            lambda client: line(client, "nums@1")["runs_completed"] >= 1,
            timeout=60,
            what="the first run of nums",
        )
        running.connect_cli()
        yield running
    finally:
        pid = running.pid
        running.stop()
        print("---- Catchment log ----")
        print(running.log_tail(6000))
        assert not children_of(pid), "the Catchment left worker processes behind"


@pytest.fixture
def client(catchment: Server) -> Iterator[httpx.Client]:
    with catchment.client() as client:
        yield client


def ask(client: httpx.Client, sql: str, **body: object) -> httpx.Response:
    return client.post("/query", json={"pond": "nums", "sql": sql, **body})


# -- JSON rows --------------------------------------------------------------------------------


def test_rows_are_an_array_of_objects(client: httpx.Client) -> None:
    answer = ask(client, "SELECT count(*) AS n, sum(n) * 2 AS s FROM numbers")
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "application/json"
    assert answer.json() == [{"n": 25, "s": 600}]
    assert answer.text == '[{"n":25,"s":600}]'
    assert TRUNCATED not in answer.headers
    assert json.loads(answer.headers[COLUMNS]) == ["n", "s"]


def test_keys_come_in_column_order(client: httpx.Client) -> None:
    answer = ask(client, "SELECT label AS zeta, n AS alpha, n * 10 AS mid FROM numbers WHERE n < 2")
    assert answer.text == '[{"zeta":"n0","alpha":0,"mid":0},{"zeta":"n1","alpha":1,"mid":10}]'
    assert [list(row) for row in answer.json()] == [["zeta", "alpha", "mid"]] * 2


def test_no_rows_is_an_empty_array_and_the_columns_header_names_them(
    client: httpx.Client,
) -> None:
    for sql in (
        "SELECT n, label FROM numbers WHERE n < 0",
        "SELECT a AS n, b AS label FROM nothing",
    ):
        answer = ask(client, sql)
        assert answer.status_code == 200
        assert answer.text == "[]"
        assert answer.headers[COLUMNS] == '["n", "label"]'
        assert TRUNCATED not in answer.headers
    # A header is ASCII: other names travel as JSON escapes.
    unicode = ask(client, 'SELECT n AS "größe", label AS "new\nline" FROM numbers WHERE false')
    assert unicode.headers[COLUMNS] == '["gr\\u00f6\\u00dfe", "new\\nline"]'
    assert json.loads(unicode.headers[COLUMNS]) == ["größe", "new\nline"]


def test_a_result_too_wide_for_a_header_leaves_the_columns_header_out(
    client: httpx.Client,
) -> None:
    names = [f"a_rather_long_column_name_{index:04d}" for index in range(400)]
    answer = ask(client, "SELECT " + ", ".join(f"{i} AS {name}" for i, name in enumerate(names)))
    assert answer.status_code == 200
    assert COLUMNS not in answer.headers  # ~13 KiB of names: clients refuse heads past 16 KiB
    assert list(answer.json()[0]) == names


def test_a_repeated_column_name_is_numbered_as_in_the_csv_file(client: httpx.Client) -> None:
    sql = "SELECT 1 AS a, 2 AS a, 3 AS A, 4 AS b"
    answer = ask(client, sql)
    assert answer.json() == [{"a": 1, "a_1": 2, "A_2": 3, "b": 4}]
    assert json.loads(answer.headers[COLUMNS]) == ["a", "a_1", "A_2", "b"]
    header = next(csv.reader(io.StringIO(ask(client, sql, format="csv").text)))
    assert header == ["a", "a_1", "A_2", "b"]


def test_values_json_has_no_type_for_become_text_or_null(client: httpx.Client) -> None:
    assert ask(client, "SELECT * FROM kinds").json() == [
        {
            "price": "12.50",
            "day": "2024-03-01",
            "at": "2024-03-01T10:30:00+00:00",
            "ratio": None,
            "list": [1, 2],
            "struct": {"a": 1},
        }
    ]


def test_a_capped_answer_stays_an_array_and_says_so_in_a_header(client: httpx.Client) -> None:
    capped = ask(client, "SELECT range AS i FROM range(10001)")
    assert capped.status_code == 200
    assert capped.headers[TRUNCATED] == "true"
    rows = capped.json()
    assert isinstance(rows, list) and len(rows) == 10_000
    assert rows[0] == {"i": 0} and rows[-1] == {"i": 9_999}
    whole = ask(client, "SELECT range AS i FROM range(10000)")
    assert TRUNCATED not in whole.headers and len(whole.json()) == 10_000


def test_a_ripple_alone_previews_ten_rows_as_objects(client: httpx.Client) -> None:
    answer = client.post("/query", json={"pond": "nums", "ripple": "numbers"})
    assert answer.json() == [{"n": n, "label": f"n{n}"} for n in range(10)]


# -- errors -----------------------------------------------------------------------------------


def test_bad_sql_is_a_400_with_a_detail(client: httpx.Client) -> None:
    answer = ask(client, "SELEC 1")
    assert answer.status_code == 400
    body = answer.json()
    assert list(body) == ["detail"] and isinstance(body["detail"], str)
    assert body["detail"].startswith("Parser Error")
    unknown = ask(client, "SELECT * FROM nowhere").json()
    assert list(unknown) == ["detail"] and "nowhere" in unknown["detail"]


def test_an_unknown_pond_is_a_404_with_a_detail(client: httpx.Client) -> None:
    answer = client.post("/query", json={"pond": "nope", "sql": "SELECT 1"})
    assert answer.status_code == 404
    body = answer.json()
    assert list(body) == ["detail"] and "nope" in body["detail"]


# -- files ------------------------------------------------------------------------------------


def test_each_file_format_holds_the_rows_the_json_answer_gives(
    client: httpx.Client, tmp_path: Path
) -> None:
    sql = "SELECT n, label FROM numbers WHERE n < 3 ORDER BY n"
    rows = ask(client, sql).json()
    assert rows == [{"n": 0, "label": "n0"}, {"n": 1, "label": "n1"}, {"n": 2, "label": "n2"}]
    as_csv = ask(client, sql, format="csv")
    assert as_csv.status_code == 200 and as_csv.headers["content-type"].startswith("text/csv")
    assert as_csv.text.splitlines() == ["n,label", "0,n0", "1,n1", "2,n2"]
    as_json = ask(client, sql, format="json")
    assert as_json.headers["content-type"] == "application/x-ndjson"
    assert [json.loads(line) for line in as_json.text.splitlines()] == rows
    as_parquet = ask(client, sql, format="parquet")
    assert as_parquet.headers["content-type"] == "application/vnd.apache.parquet"
    (tmp_path / "rows.parquet").write_bytes(as_parquet.content)
    assert pq.read_table(tmp_path / "rows.parquet").to_pylist() == rows
    for answer in (as_csv, as_json, as_parquet):
        assert TRUNCATED not in answer.headers and COLUMNS not in answer.headers


def test_the_openapi_document_describes_an_array_of_objects(catchment: Server) -> None:
    document = httpx.get(f"{catchment.url}/openapi.json", timeout=30).json()
    answer = document["paths"]["/api/query"]["post"]["responses"]["200"]
    schema = answer["content"]["application/json"]["schema"]
    assert schema["type"] == "array" and schema["items"]["type"] == "object"
    assert set(answer["headers"]) == {TRUNCATED, COLUMNS}


# -- the CLI reads the same answer ------------------------------------------------------------


def test_the_cli_shows_rows_the_columns_of_no_rows_a_cap_and_writes_files(
    catchment: Server, tmp_path: Path
) -> None:
    shown = catchment.cli("query", "nums", "--sql", "SELECT n, label FROM numbers WHERE n = 7")
    assert "label" in shown.stdout and "n7" in shown.stdout
    empty = catchment.cli("query", "nums", "--sql", "SELECT n, label FROM numbers WHERE n < 0")
    assert "label" in empty.stdout and "(no rows)" in empty.stdout
    preview = catchment.cli("query", "nums", "numbers")
    assert "n9" in preview.stdout and "n10" not in preview.stdout
    capped = catchment.cli("query", "nums", "--sql", "SELECT range AS i FROM range(10001)")
    assert "(more rows than shown)" in capped.stdout

    sql = "SELECT n FROM numbers ORDER BY n"
    catchment.cli("query", "nums", "--sql", sql, "--parquet", "all.parquet", cwd=tmp_path)
    written = tmp_path / "ponds" / "nums" / "all.parquet"
    assert pq.read_table(written).column("n").to_pylist() == list(range(25))
    failed = catchment.cli(
        "query",
        "nums",
        "--sql",
        "SELEC",
        "--csv",
        "x.csv",
        "--path",
        "out",
        cwd=tmp_path,
        check=False,
    )
    assert failed.returncode == 1 and "Parser Error" in failed.stderr
    assert "Traceback" not in failed.stderr
    assert not (tmp_path / "out").exists()
    assert sorted(path.name for path in written.parent.iterdir()) == ["all.parquet"]
