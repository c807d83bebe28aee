"""Puddles and hydrate reading a real Catchment's published tables."""

from __future__ import annotations

import subprocess
import textwrap
from pathlib import Path

import pyarrow.parquet as pq

from e2e.projects import COPY_OF, COUNTER, write_pond
from e2e.server import Server


def test_hydrate_from_catchment_and_a_puddle_using_p_catchment(
    server: Server, tmp_path: Path
) -> None:
    server.connect_cli()
    server.cli("pond", "deploy", "-y", cwd=write_pond(tmp_path, "source", COUNTER, kind="inlet"))
    server.cli("trigger", "pulse", "source")
    sink = write_pond(
        tmp_path,
        "sink",
        COPY_OF.format(table="copy", source="source", source_table="numbers"),
        sources={"source": "1.0.0"},
    )
    skipped = server.cli("pond", "hydrate", cwd=sink)
    assert "nothing to hydrate" in skipped.stderr
    fetched = server.cli("pond", "hydrate", "--from-catchment", cwd=sink)
    assert "source.numbers" in fetched.stdout
    local = sink / "puddles" / "ponds" / "source" / "data" / "numbers.parquet"
    assert pq.read_table(local).to_pylist() == [{"n": 1}]
    server.cli("pond", "run", cwd=sink)
    assert pq.read_table(sink / "puddles" / "out" / "copy.parquet").to_pylist() == [{"n": 1}]

    (sink / "src" / "puddles.py").write_text(
        textwrap.dedent("""
        from duckstring import puddle

        @puddle("source.numbers")
        def numbers(p):
            assert p.catchment().tables() == ["numbers"]
            bigger = p.catchment().query("SELECT n * 10 AS n FROM numbers")
            p.write_table(bigger)
    """)
    )
    server.cli("pond", "hydrate", cwd=sink)
    assert pq.read_table(local).to_pylist() == [{"n": 10}]
    (sink / "src" / "puddles.py").write_text(
        textwrap.dedent("""
        from duckstring import puddle

        @puddle("source.numbers")
        def numbers(p):
            return p.catchment().get()
    """)
    )
    server.cli("pond", "hydrate", cwd=sink)
    assert pq.read_table(local).to_pylist() == [{"n": 1}]


#: An Inlet publishing ``numbers`` (one row, n = 1) and ``big`` (a million rows).
TWO_TABLES = """
@ripple
def numbers(pond):
    pond.write_table("numbers", pond.con.sql("SELECT 1 AS n"))


@ripple
def big(pond):
    pond.write_table(
        "big", pond.con.sql("SELECT range AS id, md5(range::VARCHAR) AS tag FROM range(1000000)")
    )
"""


def test_a_puddles_catchment_client_answers_relations_on_its_connection(
    server: Server, tmp_path: Path
) -> None:
    server.connect_cli()
    source = write_pond(tmp_path, "source", TWO_TABLES, kind="inlet")
    server.cli("pond", "deploy", "-y", cwd=source)
    server.cli("trigger", "pulse", "source")
    sink = write_pond(
        tmp_path,
        "sink",
        COPY_OF.format(table="copy", source="source", source_table="numbers"),
        sources={"source": "1.0.0"},
    )
    data = sink / "puddles" / "ponds" / "source" / "data"
    scratch = tmp_path / "tmp"  # the puddles' downloads go here, and must go again
    scratch.mkdir()
    server.env["TMPDIR"] = str(scratch)  # for the CLI from here on (the server runs already)

    def hydrate(puddles: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        (sink / "src" / "puddles.py").write_text(textwrap.dedent(puddles))
        return server.cli("pond", "hydrate", cwd=sink, check=check)

    hydrate("""
        import duckdb
        from duckdb import DuckDBPyRelation
        from duckstring import puddle

        @puddle("source.big")
        def big(p):
            table = p.catchment().get()
            assert isinstance(table, DuckDBPyRelation), type(table)
            assert table.columns == ["id", "tag"]
            p.write_table(table)

        @puddle("source.numbers")
        def numbers(p):
            catchment = p.catchment()
            assert catchment.tables() == ["big", "numbers"]
            ten = catchment.query("SELECT n * 10 AS n FROM numbers")
            assert isinstance(ten, DuckDBPyRelation)
            other = catchment.get("big")  # another table of the Source, by name
            p.write_table(p.con.sql("SELECT n + (SELECT count(*) FROM other) AS n FROM ten"))
    """)
    assert pq.read_table(data / "numbers.parquet").to_pylist() == [{"n": 1_000_010}]
    big = pq.read_table(data / "big.parquet")
    assert big.num_rows == 1_000_000
    assert big.column("id").to_pylist()[-3:] == [999_997, 999_998, 999_999]
    assert list(scratch.iterdir()) == [], "the downloads outlived the puddles"

    hydrate("""
        from duckstring import puddle

        @puddle("source")
        def everything(p):
            for table in p.catchment().tables():
                p.write_table(table, p.catchment().get(table))
    """)
    assert sorted(path.name for path in data.iterdir()) == ["big.parquet", "numbers.parquet"]
    assert pq.read_table(data / "numbers.parquet").to_pylist() == [{"n": 1}]

    unnamed = hydrate(
        """
        from duckstring import puddle

        @puddle("source")
        def everything(p):
            p.write_table("numbers", p.catchment().get())
        """,
        check=False,
    )
    assert unnamed.returncode == 1 and "Traceback" not in unnamed.stderr
    assert "is for a whole Source: name the table" in unnamed.stderr
    unknown = hydrate(
        """
        from duckstring import puddle

        @puddle("source.numbers")
        def numbers(p):
            return p.catchment().get("nope")
        """,
        check=False,
    )
    assert unknown.returncode == 1 and "Traceback" not in unknown.stderr
    assert "'source' publishes no table 'nope'" in unknown.stderr
    assert "(it publishes: big, numbers)" in unknown.stderr
    assert pq.read_table(data / "numbers.parquet").to_pylist() == [{"n": 1}], "kept"
    assert list(scratch.iterdir()) == []
