"""Puddles and hydrate reading a real Catchment's published tables."""

from __future__ import annotations

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
