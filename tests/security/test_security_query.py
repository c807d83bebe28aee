"""``POST /api/query`` through HTTP: SQL reads the line's published snapshots and nothing else on
the server, writes nothing, installs nothing, changes no setting, and a runaway query is stopped
by the time bound (and a greedy one by the memory bound) while the server keeps answering."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from e2e.server import Server
from security.conftest import KEY, deploy_pond, listing, pulse_until_published

#: This module's Catchment stops queries after this many seconds (the default is 30).
QUERY_TIMEOUT = 6.0


@dataclass
class Lines:
    server: Server
    root: Path
    scratch: Path  # where a write that escaped would land


@pytest.fixture(scope="module")
def lines(start_server: Callable[..., Server], tmp_path_factory: pytest.TempPathFactory) -> Lines:
    server = start_server(key=KEY, env={"DUCKSTRING_QUERY_TIMEOUT": str(QUERY_TIMEOUT)})
    projects = tmp_path_factory.mktemp("projects")
    for name in ("alpha", "beta"):
        deploy_pond(server, projects, name, kind="inlet")
        pulse_until_published(server, name)
    return Lines(server, server.root, tmp_path_factory.mktemp("scratch"))


@pytest.fixture
def client(lines: Lines) -> Iterator[httpx.Client]:
    with lines.server.client() as client:
        yield client


def hostile_sql(lines: Lines) -> dict[str, str]:
    root, scratch, port = lines.root, lines.scratch, lines.server.port
    alpha = root / "ponds" / "alpha" / "m1"
    beta = root / "ponds" / "beta" / "m1"
    return {
        "read_csv passwd": "SELECT * FROM read_csv('/etc/passwd')",
        "read_text passwd": "SELECT * FROM read_text('/etc/passwd')",
        "read_blob environ": "SELECT * FROM read_blob('/proc/self/environ')",
        "read_json hostname": "SELECT * FROM read_json_auto('/etc/hostname')",
        "sniff_csv": "SELECT * FROM sniff_csv('/etc/passwd')",
        "parquet_metadata": "SELECT * FROM parquet_metadata('/etc/passwd')",
        "in a CTE": "WITH x AS (SELECT * FROM read_text('/etc/passwd')) SELECT * FROM x",
        "another line's snapshot": f"SELECT * FROM read_parquet('{alpha}/data/numbers.parquet')",
        "every snapshot by glob": f"SELECT * FROM read_parquet('{root}/ponds/*/m1/data/*.parquet')",
        "glob the root": f"SELECT * FROM glob('{root}/*')",
        "glob etc": "SELECT * FROM glob('/etc/*')",
        "own working database": f"SELECT * FROM read_blob('{beta}/registry.duckdb')",
        "the Catchment database": f"SELECT * FROM read_blob('{root}/duck.db')",
        "a URL": f"SELECT * FROM read_csv('http://127.0.0.1:{port}/api/status')",
        "copy to a file": f"COPY (SELECT 1) TO '{scratch}/copied.csv'",
        "copy a table": f"COPY numbers TO '{scratch}/numbers.parquet' (FORMAT parquet)",
        "export database": f"EXPORT DATABASE '{scratch}/exported'",
        "select then copy": f"SELECT 1; COPY (SELECT 1) TO '{scratch}/second.csv'",
        "copy inside query()": f"SELECT * FROM query('COPY (SELECT 1) TO ''{scratch}/q.csv''')",
        "attach a new file": f"ATTACH '{scratch}/attached.db' AS x",
        "attach a registry": f"ATTACH '{alpha}/registry.duckdb' AS x (READ_ONLY)",
        "install": "INSTALL httpfs",
        "force install": "FORCE INSTALL httpfs",
        "load": "LOAD httpfs",
        "set external access": "SET enable_external_access = true",
        "set memory": "SET memory_limit = '100GB'",
        "reset": "RESET allowed_paths",
        "pragma": "PRAGMA enable_profiling",
        "create table": "CREATE TABLE t AS SELECT 1",
        "create secret": "CREATE SECRET s (TYPE s3, KEY_ID 'a', SECRET 'b')",
        "drop a view": "DROP VIEW numbers",
        "checkpoint": "CHECKPOINT",
    }


def test_sql_cannot_reach_files_write_install_or_reconfigure(
    lines: Lines, client: httpx.Client
) -> None:
    before = listing(lines.root)
    let_through = {}
    for case, sql in hostile_sql(lines).items():
        for fmt in (None, "csv"):
            answer = client.post("/query", json={"pond": "beta", "sql": sql, "format": fmt})
            body = answer.text
            assert "root:x:0:0" not in body and KEY not in body, case
            if answer.status_code != 400:
                let_through[f"{case} ({fmt or 'json'})"] = (answer.status_code, body[:200])
    assert not let_through, let_through
    assert not list(lines.scratch.iterdir()), "a query wrote a file"
    assert listing(lines.root) == before, "a query changed the root"
    # The connection is not left open to a later query either.
    answer = client.post("/query", json={"pond": "beta", "sql": "FROM read_text('/etc/passwd')"})
    assert answer.status_code == 400


def test_the_line_s_own_snapshots_are_readable(lines: Lines, client: httpx.Client) -> None:
    own = lines.root / "ponds" / "beta" / "m1" / "data" / "numbers.parquet"
    for sql in (
        "SELECT n FROM numbers",
        "SELECT n FROM beta.numbers",
        f"SELECT n FROM read_parquet('{own}')",
    ):
        answer = client.post("/query", json={"pond": "beta", "sql": sql})
        assert answer.status_code == 200, (sql, answer.text)
        assert answer.json() == [{"n": 1}]
    answer = client.post("/query", json={"pond": "beta", "sql": "SELECT n FROM alpha.numbers"})
    assert answer.status_code == 400


def test_a_query_in_an_unknown_file_format_is_refused_and_each_known_one_answers(
    lines: Lines, client: httpx.Client
) -> None:
    before = listing(lines.root)
    for fmt in ("xml", "CSV", ""):
        answer = client.post("/query", json={"pond": "beta", "sql": "SELECT 1", "format": fmt})
        assert answer.status_code == 422, (fmt, answer.text)
        assert "format must be csv, json or parquet" in answer.text
    assert listing(lines.root) == before
    for fmt in ("csv", "json", "parquet"):
        answer = client.post("/query", json={"pond": "beta", "sql": "SELECT 1", "format": fmt})
        assert answer.status_code == 200, (fmt, answer.text)
        assert answer.content


def test_a_greedy_query_is_stopped_by_the_memory_bound(lines: Lines, client: httpx.Client) -> None:
    sql = "SELECT list(i) FROM range(400000000) t(i)"
    answer = client.post("/query", json={"pond": "beta", "sql": sql}, timeout=120)
    assert answer.status_code == 400
    assert "Out of Memory" in answer.json()["detail"]


def test_a_runaway_query_is_stopped_by_the_time_bound_and_the_server_keeps_answering(
    lines: Lines,
) -> None:
    """The bound is DUCKSTRING_QUERY_TIMEOUT, shortened for this module's Catchment."""
    bound = QUERY_TIMEOUT
    sql = "SELECT count(*) FROM range(1000000) a, range(1000000) b, range(1000000) c"
    outcome: dict[str, object] = {}

    def runaway() -> None:
        started = time.monotonic()
        with lines.server.client() as client:
            answer = client.post("/query", json={"pond": "beta", "sql": sql}, timeout=bound * 4)
        outcome.update(status=answer.status_code, detail=answer.json()["detail"])
        outcome["seconds"] = time.monotonic() - started

    thread = threading.Thread(target=runaway)
    thread.start()
    time.sleep(1)
    latencies = []
    with lines.server.client() as client:
        while thread.is_alive():
            started = time.monotonic()
            assert client.get("/health").status_code == 200
            answer = client.post("/query", json={"pond": "beta", "sql": "SELECT n FROM numbers"})
            assert answer.status_code == 200
            latencies.append(time.monotonic() - started)
            thread.join(timeout=2)
    assert outcome["status"] == 400
    assert outcome["detail"] == f"query exceeded {bound:g} s"
    assert bound <= float(outcome["seconds"]) < bound + 15  # type: ignore[arg-type]
    assert max(latencies) < 10, latencies
