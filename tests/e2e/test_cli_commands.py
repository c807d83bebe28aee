"""Every CLI command through the real CLI against a real Catchment."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import httpx
import pyarrow.parquet as pq

from e2e.projects import COUNTER, RAISES, copy_pond, write_pond
from e2e.proxy import Proxy
from e2e.server import Server


def deploy_chain(server: Server, tmp_path: Path) -> None:
    server.connect_cli()
    for project in (
        write_pond(tmp_path, "source", COUNTER, kind="inlet"),
        copy_pond(tmp_path, "sink", "source", "numbers", table="copy"),
    ):
        server.cli("pond", "deploy", "-y", cwd=project)


def test_registrations_list_default_and_disconnect(server: Server, tmp_path: Path) -> None:
    fresh = server.cli("catchment", "list")
    assert "No Catchment is registered" in fresh.stdout and "catchment init" in fresh.stdout
    missing = server.cli("status", "--once", check=False)
    assert missing.returncode != 0 and "no Catchment is registered" in missing.stderr
    assert "Traceback" not in missing.stderr
    server.connect_cli()
    server.cli("catchment", "connect", "-n", "other", "--path", "http://127.0.0.1:9", "-y")
    config = server.home / "config.toml"
    assert stat.S_IMODE(config.stat().st_mode) == 0o600
    listing = server.cli("catchment", "list").stdout
    assert "● " in listing and "other" in listing
    unreachable = server.cli("status", "--once", check=False)
    assert (
        unreachable.returncode == 1
        and "cannot reach the Catchment at http://127.0.0.1:9" in unreachable.stderr
    )
    server.cli("catchment", "set-default", "test")
    assert "(no Ponds deployed)" in server.cli("status", "--once").stdout
    assert "other" in server.cli("status", "--once", "-c", "test").stdout or True
    server.cli("catchment", "disconnect", "other")
    assert "other" not in server.cli("catchment", "list").stdout
    bad = server.cli("catchment", "set-default", "nobody", check=False)
    assert bad.returncode == 1 and "no Catchment named 'nobody'" in bad.stderr


def test_status_triggers_windows_and_control_verbs(server: Server, tmp_path: Path) -> None:
    deploy_chain(server, tmp_path)
    out = server.cli("trigger", "pulse", "sink")
    assert "settled" in out.stdout
    snapshot = server.cli("status", "--once").stdout
    assert "source@1" in snapshot and "sink@1" in snapshot and "idle" in snapshot
    assert "sink@1" in server.cli("status", "sink", "--once").stdout
    unknown = server.cli("status", "nothing", "--once", check=False)
    assert unknown.returncode == 1 and "unknown Pond 'nothing'" in unknown.stderr

    add = [
        "trigger",
        "window",
        "source",
        "add",
        "-n",
        "nightly",
        "-e",
        "1d",
        "-s",
        "02:00",
        "-d",
        "3h",
        "-o",
        "MON,WED,FRI",
    ]
    assert "every 1d" in server.cli(*add).stdout
    clash = server.cli("trigger", "window", "source", "add", "-n", "clash", "-e", "1h", check=False)
    assert clash.returncode == 1 and "overlap" in clash.stderr and "Traceback" not in clash.stderr
    bad = server.cli("trigger", "window", "source", "add", "-n", "x", "-e", "1h30m", check=False)
    assert bad.returncode == 1 and "single unit" in bad.stderr
    listed = server.cli("trigger", "window", "source", "list").stdout
    assert "nightly" in listed and "every 1d from" in listed and "for 3h on MON,WED,FRI" in listed
    with server.client() as client:
        windows = client.get("/ponds/source/windows").json()["windows"]
        assert windows[0]["valid_days"] == "MON,WED,FRI"
    server.cli("trigger", "window", "source", "remove", "nightly")
    assert "no windows" in server.cli("trigger", "window", "source", "list").stdout

    budget = server.cli("control", "failure-budget", "sink", "-i", "2", "-o", "1").stdout
    assert "immediate retries 2, on-change retries 1" in budget
    assert "immediate retries 2" in server.cli("control", "failure-budget", "sink").stdout
    # A budget not given keeps its value.
    budget = server.cli("control", "failure-budget", "sink", "-i", "5").stdout
    assert "immediate retries 5, on-change retries 1" in budget
    server.cli("trigger", "wave", "sink", "--silent")
    server.cli("trigger", "tide", "sink", "1h", "--silent")
    badtide = server.cli("trigger", "tide", "sink", "soon", check=False)
    assert badtide.returncode == 1 and "bad duration" in badtide.stderr
    with server.client() as client:
        sink = next(p for p in client.get("/status").json()["ponds"] if p["id"] == "sink@1")
        assert sink["trigger"] == {"kind": "tide", "bound_ms": 3_600_000}
    server.cli("trigger", "remove", "sink")
    server.cli("control", "sleep", "sink", "--upstream")
    assert "settled" in server.cli("control", "force", "sink").stdout
    server.cli("control", "kill", "sink")
    assert "killed" in server.cli("status", "sink", "--once").stdout
    cleared = server.cli("control", "clear", "sink").stdout
    assert "clear sink: ok" in cleared and "duckstring trigger tap sink" in cleared
    assert "settled" in server.cli("control", "wake", "source").stdout


def test_query_get_and_a_failure_shown_by_a_one_shot(server: Server, tmp_path: Path) -> None:
    deploy_chain(server, tmp_path)
    server.cli("trigger", "pulse", "sink")
    out = server.cli("query", "sink", "--sql", "SELECT n FROM copy")
    assert " n " in out.stdout or "┃ n" in out.stdout
    sql_file = tmp_path / "q.sql"
    sql_file.write_text("SELECT n FROM sink.copy")
    server.cli("query", "sink", "--sql", f"@{sql_file}", "--csv", "out.csv", cwd=tmp_path)
    assert (tmp_path / "ponds" / "sink" / "out.csv").read_text().startswith("n")
    server.cli("query", "sink", "copy", "--json", "rows.json", "--path", str(tmp_path / "x"))
    assert json.loads((tmp_path / "x" / "rows.json").read_text().splitlines()[0])
    server.cli("get", "sink", "copy", cwd=tmp_path)
    assert pq.read_table(tmp_path / "ponds" / "sink" / "copy" / "copy.parquet").num_rows == 1
    bad = server.cli("query", "sink", "--sql", "SELEC nonsense", check=False)
    assert bad.returncode == 1 and "Traceback" not in bad.stderr and bad.stderr.strip()
    server.cli(
        "pond", "deploy", "-y", cwd=write_pond(tmp_path / "f", "broken", RAISES, kind="inlet")
    )
    failed = server.cli("trigger", "pulse", "broken", check=False)
    assert failed.returncode == 1 and "broken@1 is failed" in failed.stderr


def test_key_and_headers_are_sent_on_every_request(tmp_path: Path) -> None:
    server = Server(root=tmp_path / "root", home=tmp_path / "home", key="s3cret")
    server.start()
    try:
        with Proxy(server.url) as proxy:
            server.cli(
                "catchment",
                "connect",
                "-n",
                "gated",
                "--path",
                proxy.url,
                "-y",
                "--header",
                "X-Platform: team-a",
            )
            denied = server.cli("status", "--once", check=False)
            assert denied.returncode == 1 and "needs an API key" in denied.stderr
            server.cli(
                "catchment",
                "connect",
                "-n",
                "gated",
                "--path",
                proxy.url,
                "-y",
                "--key",
                "s3cret",
                "--header",
                "X-Platform: team-a",
            )
            server.cli("status", "--once")
            assert proxy.seen[-1]["x-platform"] == "team-a"
            assert proxy.seen[-1]["authorization"] == "Bearer s3cret"
        assert httpx.get(f"{server.url}/api/status").status_code == 401
        assert httpx.get(f"{server.url}/api/health").status_code == 200
    finally:
        server.close()


def test_download_makes_a_root_that_starts_with_the_same_state(
    server: Server, tmp_path: Path
) -> None:
    deploy_chain(server, tmp_path)
    server.cli("trigger", "pulse", "sink")
    server.cli("trigger", "window", "source", "add", "-n", "daily", "-e", "1d")
    copy = tmp_path / "copy"
    out = server.cli("catchment", "download", "--path", str(copy), "-y")
    assert "downloaded into" in out.stdout
    assert (copy / "duck.db").exists() and not (copy / "catchment.lock").exists()
    with server.client() as client:
        before_runs = client.get("/runs").json()["runs"]
    second = Server(root=copy, home=tmp_path / "home2")
    second.start()
    try:
        with second.client() as client:
            ponds = {p["id"] for p in client.get("/status").json()["ponds"]}
            assert ponds == {"source@1", "sink@1"}
            assert client.get("/runs").json()["runs"] == before_runs
            assert client.get("/ponds/source/windows").json()["windows"][0]["name"] == "daily"
            rows = client.post("/query", json={"pond": "sink", "sql": "SELECT * FROM copy"})
            assert rows.json() == [{"n": 1}]
    finally:
        second.close()
