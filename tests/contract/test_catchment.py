"""``GET /api/catchment/usage`` and ``GET /api/catchment/archive`` on a real Catchment.

``archive_bytes`` must predict the length of the archive streamed next within 10 %, whatever
dominates it: tar headers (many small files, long or non-ASCII names), a SQLite database whose
pages still sit in its WAL (it goes in as a snapshot, not as the main file), or file content.
"""

from __future__ import annotations

import io
import os
import sqlite3
import tarfile
from typing import Any

import httpx

from e2e.server import Server

TOLERANCE = 0.10


def usage(client: httpx.Client) -> dict[str, Any]:
    answer = client.get("/catchment/usage")
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert isinstance(body, dict)
    return body


def streamed(client: httpx.Client) -> bytes:
    with client.stream("GET", "/catchment/archive") as answer:
        assert answer.status_code == 200
        assert answer.headers["content-type"] == "application/x-tar"
        return b"".join(answer.iter_bytes())


def assert_predicted(client: httpx.Client, what: str) -> tuple[dict[str, Any], bytes]:
    """The usage figure, then the archive; the first predicts the second's length."""
    figure = usage(client)
    archive = streamed(client)
    error = abs(figure["archive_bytes"] - len(archive)) / len(archive)
    assert error <= TOLERANCE, (
        f"{what}: predicted {figure['archive_bytes']} bytes, streamed {len(archive)} "
        f"({error:.1%} off)"
    )
    return figure, archive


def members(archive: bytes) -> dict[str, tarfile.TarInfo]:
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        return {member.name: member for member in tar.getmembers()}


def test_usage_has_exact_keys_and_types_and_predicts_an_empty_root(server: Server) -> None:
    with server.client() as client:
        figure, archive = assert_predicted(client, "an empty root")
    assert set(figure) == {"total_bytes", "file_count", "archive_bytes"}
    for key, value in figure.items():
        assert type(value) is int and value >= 0, (key, value)
    # duck.db as it lies on disk; the lock file stays out.
    assert figure["file_count"] == 1
    assert figure["total_bytes"] == (server.root / "duck.db").stat().st_size
    assert list(members(archive)) == ["duck.db"]
    assert len(archive) % tarfile.RECORDSIZE == 0


def test_archive_bytes_predicts_a_root_after_the_demo_ran(server: Server) -> None:
    projects = server.root.parent / "projects"
    projects.mkdir()
    server.cli("pond", "demo", cwd=projects)
    server.connect_cli()
    assert server.cli("pond", "deploy", "--all", "-y", cwd=projects).stdout.count("deployed") == 4
    assert "settled" in server.cli("trigger", "pulse", "reports").stdout
    with server.client() as client:
        figure, archive = assert_predicted(client, "the demo's root (headers dominate)")
    found = members(archive)
    assert figure["file_count"] == len(found) > 20
    assert {f"ponds/{name}/m1/pond.db" for name in ("transactions", "sales")} <= set(found)
    assert not [name for name in found if name.endswith(("-wal", "-shm", ".lock"))]

    copy = server.root.parent / "duck-copy.db"
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        database = tar.extractfile("duck.db")
        assert database is not None
        copy.write_bytes(database.read())
    connection = sqlite3.connect(copy)
    try:
        assert connection.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        deployed = connection.execute("SELECT name FROM deployments ORDER BY name").fetchall()
        assert deployed == [("products",), ("reports",), ("sales",), ("transactions",)]
        assert connection.execute("SELECT count(*) FROM runs").fetchone()[0] >= 4
    finally:
        connection.close()


def test_archive_bytes_predicts_long_and_non_ascii_names_a_wal_database_and_a_large_file(
    server: Server,
) -> None:
    extra = server.root / "ponds" / "extra"
    with server.client() as client:
        # Many small files whose names need PAX headers: over 100 characters, or not ASCII.
        names = extra / "names"
        names.mkdir(parents=True)
        for n in range(60):
            (names / f"{'long-name-' * 12}{n}.txt").write_text("x")
            (names / f"données-été-日本語-{n}.csv").write_text("y")
        deep = names / ("d" * 120) / ("e" * 120)
        deep.mkdir(parents=True)
        (deep / f"{'f' * 200}.parquet").write_bytes(b"z" * 10)
        assert_predicted(client, "long and non-ASCII names")

        # A WAL database whose pages are still in its WAL: the main file is one page.
        ledger = extra / "m1" / "pond.db"
        ledger.parent.mkdir(parents=True)
        writer = sqlite3.connect(ledger)
        try:
            writer.execute("PRAGMA journal_mode=wal")
            writer.execute("PRAGMA wal_autocheckpoint=0")
            writer.execute("CREATE TABLE events (payload TEXT)")
            writer.executemany("INSERT INTO events VALUES (?)", [("e" * 1000,)] * 4000)
            writer.commit()
            wal = ledger.with_name("pond.db-wal")
            assert ledger.stat().st_size < wal.stat().st_size / 100
            _, archive = assert_predicted(client, "a WAL database")
            with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
                snapshot = tar.getmember("ponds/extra/m1/pond.db")
                assert snapshot.size > wal.stat().st_size / 2
                assert "ponds/extra/m1/pond.db-wal" not in tar.getnames()
        finally:
            writer.close()

        # One large file: its content dominates.
        (extra / "large.bin").write_bytes(os.urandom(24 * 1024 * 1024))
        assert_predicted(client, "a large file")
