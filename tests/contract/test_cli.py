"""The CLI against a real Catchment: ``status --once`` keeps every value whole through a pipe
at any width, ``status --json`` prints the status document for scripts, and a Catchment
name keeps its case from ``catchment init`` to the folder it serves."""

from __future__ import annotations

import json
import re
import subprocess
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from contract.conftest import deploy
from e2e.projects import RAISES
from e2e.server import DUCKSTRING, Server, catchment_init, free_port, interrupt

# A Ripple held open by the test: its Pond reads `running` until the gate file appears.
GATED = """
import time
from pathlib import Path

@ripple
def lines(pond):
    deadline = time.monotonic() + 120
    while not Path({gate!r}).exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    pond.write_table("lines", pond.con.sql("SELECT 1 AS n"))
"""

QUICK = """
@ripple
def catalogue(pond):
    pond.write_table("catalogue", pond.con.sql("SELECT 1 AS id"))
"""

JOIN = """
@ripple
def totals(pond):
    pond.write_table("totals", pond.read_table("products.catalogue"))
"""

AGE = re.compile(r"never|(in )?\d+[smhd]")


def cli(server: Server, *args: str, columns: int = 200) -> subprocess.CompletedProcess[str]:
    """The real CLI through a pipe, in a terminal ``columns`` wide."""
    env = server.environment()
    env["COLUMNS"] = str(columns)
    return subprocess.run(
        [*DUCKSTRING, *args],
        env=env,
        cwd=server.root.parent,
        capture_output=True,
        text=True,
        timeout=60,
    )


def status_document(server: Server) -> dict[str, Any]:
    with server.client() as client:
        return dict(client.get("/status").json())


def steady(document: dict[str, Any]) -> dict[str, Any]:
    """The document without what moves with the clock alone."""
    ponds = [{k: v for k, v in p.items() if k != "staleness_ms"} for p in document["ponds"]]
    return {**{k: v for k, v in document.items() if k != "now"}, "ponds": ponds}


@pytest.fixture
def busy(server: Server, tmp_path: Path) -> Iterator[Server]:
    """Four lines in four states: transactions running (held), products idle after a run,
    sales_by_region queued behind transactions, broken failed."""
    gate = tmp_path / "gate"
    held = GATED.format(gate=str(gate))
    deploy(server, tmp_path, "transactions", held, kind="inlet", version="12.104.3")
    deploy(server, tmp_path, "products", QUICK, kind="inlet")
    sources = {"products": "1.0.0", "transactions": "12.0.0"}
    deploy(server, tmp_path, "sales_by_region", JOIN, version="3.2.1", sources=sources)
    deploy(server, tmp_path, "broken", RAISES, kind="inlet", version="1.0.0-rc.1")
    server.connect_cli()
    with server.client() as client:
        assert client.post("/ponds/sales_by_region/pulse").json() == {"ok": True}
        assert client.post("/ponds/broken/pulse").json() == {"ok": True}

    def settled(client: httpx.Client) -> bool:
        states = {p["name"]: p for p in client.get("/status").json()["ponds"]}
        return (
            states["transactions"]["status"] == "running"
            and states["products"]["status"] == "idle"
            and states["products"]["runs_completed"] == 1
            and states["sales_by_region"]["status"] == "queued"
            and states["broken"]["status"] == "failed"
        )

    try:
        server.wait_for(settled, what="four lines in four states")
        yield server
    finally:
        # Let the held run finish, so the Catchment stops with nothing in flight.
        gate.touch()

        def idle(client: httpx.Client) -> bool:
            ponds = client.get("/status").json()["ponds"]
            return all(p["status"] in ("idle", "failed") for p in ponds)

        server.wait_for(idle, what="every line to settle")


def drawn_rows(text: str) -> dict[str, list[str]]:
    """The body rows of a drawn status table, by line id."""
    found = {}
    for line in text.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("│").split("│")]
        if len(cells) >= 4 and re.fullmatch(r"[a-z_]+@\d+", cells[0]):
            found[cells[0]] = cells
    return found


@pytest.mark.parametrize("columns", [60, 80, 200])
def test_status_once_through_a_pipe_keeps_pond_state_version_and_age_whole(
    busy: Server, columns: int
) -> None:
    shown = cli(busy, "status", "--once", columns=columns)
    assert shown.returncode == 0 and shown.stderr == "", shown.stderr
    assert "…" not in shown.stdout and "\x1b" not in shown.stdout
    assert max(len(line) for line in shown.stdout.splitlines()) <= columns
    rows = drawn_rows(shown.stdout)
    document = status_document(busy)
    assert sorted(rows) == sorted(p["id"] for p in document["ponds"])
    for pond in document["ponds"]:
        state, version, age = rows[pond["id"]][1:4]
        assert (state, version) == (pond["status"], pond["version"]), rows[pond["id"]]
        assert AGE.fullmatch(age), age
        assert (age == "never") == (pond["end_f"] is None)
    assert rows["transactions@12"][1:3] == ["running", "12.104.3"]
    assert rows["broken@1"][1:3] == ["failed", "1.0.0-rc.1"]
    headings = shown.stdout.splitlines()[1].replace("┃", " ").split()
    assert headings[:4] == ["pond", "state", "version", "age"]
    if columns == 200:
        assert headings[4:] == ["stale", "trigger", "runs", "fails", "budget"]
        assert "not shown" not in shown.stdout
    else:
        assert len(headings) < 9 and "not shown at this width: " in shown.stdout


def test_status_json_prints_the_status_document_and_nothing_else(busy: Server) -> None:
    # A terminal 20 columns wide wraps nothing: the JSON is for a script, not the screen.
    printed = cli(busy, "status", "--json", columns=20)
    assert printed.returncode == 0 and printed.stderr == ""
    assert "\x1b" not in printed.stdout
    document = json.loads(printed.stdout)
    assert steady(document) == steady(status_document(busy))
    assert list(document) == ["now", "ponds", "edges"]
    assert sorted(p["id"] for p in document["ponds"]) == [
        "broken@1",
        "products@1",
        "sales_by_region@3",
        "transactions@12",
    ]


def test_status_json_of_a_pond_keeps_its_line_and_upstream_lineage(busy: Server) -> None:
    full = status_document(busy)
    printed = cli(busy, "status", "sales_by_region", "--json")
    assert printed.returncode == 0 and printed.stderr == ""
    document = json.loads(printed.stdout)
    ids = [p["id"] for p in document["ponds"]]
    assert ids[0] == "sales_by_region@3"
    assert sorted(ids) == ["products@1", "sales_by_region@3", "transactions@12"]
    assert sorted(document["edges"]) == [
        ["products@1", "sales_by_region@3"],
        ["transactions@12", "sales_by_region@3"],
    ]
    entries = {p["id"]: p for p in steady(full)["ponds"]}
    assert steady(document)["ponds"] == [entries[i] for i in ids]

    inlet = json.loads(cli(busy, "status", "products", "--json", "-m", "1").stdout)
    assert [p["id"] for p in inlet["ponds"]] == ["products@1"] and inlet["edges"] == []


def test_status_json_of_an_unknown_pond_is_one_line_on_stderr(busy: Server) -> None:
    for args, says in [
        (("nope",), "error: unknown Pond 'nope'"),
        (("nope", "-m", "1"), "error: unknown Pond 'nope'"),
        (("products", "-m", "2"), "error: no line of Pond 'products' with major 2"),
    ]:
        printed = cli(busy, "status", *args, "--json")
        assert printed.returncode == 1
        assert printed.stdout == ""
        assert printed.stderr.strip() == says


def test_a_catchment_named_with_capitals_serves_the_folder_of_that_name(tmp_path: Path) -> None:
    helper = Server(root=tmp_path / "unused", home=tmp_path / "home")
    port = free_port()
    init = catchment_init(helper, port, "-n", "Prod.eu-2", "-y")
    try:
        root = tmp_path / "home" / "Prod.eu-2"
        config = tomllib.loads((tmp_path / "home" / "config.toml").read_text())
        assert config["default"] == "Prod.eu-2"
        assert config["catchments"]["Prod.eu-2"]["root"] == str(root)
        assert (root / "duck.db").exists()
        shown = helper.cli("status", "--once", "-c", "Prod.eu-2")
        assert "(no Ponds deployed)" in shown.stdout
        other = helper.cli("status", "--once", "-c", "prod.eu-2", check=False)
        assert other.returncode == 1
        assert other.stderr.strip() == (
            "error: no Catchment named 'prod.eu-2' is registered (known: Prod.eu-2)"
        )
        listed = helper.cli("catchment", "list").stdout
        assert re.search(r"●\s+Prod\.eu-2\s+http://127\.0\.0\.1:\d+\s+local: " + str(root), listed)
    finally:
        interrupt(init)
