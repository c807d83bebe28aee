"""The demo through the real CLI and HTTP against a real Catchment and real Ducks."""

from __future__ import annotations

import io
import zipfile
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pyarrow.parquet as pq

from e2e.server import Server


def ts(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def deploy_demo(server: Server) -> Path:
    projects = server.root.parent / "projects"
    projects.mkdir()
    server.cli("pond", "demo", cwd=projects)
    server.connect_cli()
    out = server.cli("pond", "deploy", "--all", "-y", cwd=projects)
    assert out.stdout.count("deployed") == 4, out.stdout
    return projects


def runs(client: httpx.Client, **params: Any) -> list[dict[str, Any]]:
    return client.get("/runs", params={"limit": 1000, **params}).json()["runs"]


def status_of(client: httpx.Client) -> dict[str, dict[str, Any]]:
    return {p["id"]: p for p in client.get("/status").json()["ponds"]}


def test_demo_deploys_and_a_pulse_runs_the_lineage_in_dependency_order(server: Server) -> None:
    deploy_demo(server)
    with server.client() as client:
        status = client.get("/status").json()
        ids = {p["id"] for p in status["ponds"]}
        assert ids == {"transactions@1", "products@1", "sales@1", "reports@1"}
        assert ["sales@1", "reports@1"] in status["edges"]
        sales = next(p for p in status["ponds"] if p["id"] == "sales@1")
        assert {r["name"] for r in sales["ripples"]} == {"daily_sales", "price_tiers", "join_lines"}
    out = server.cli("trigger", "pulse", "reports")
    assert "settled" in out.stdout
    with server.client() as client:
        history = runs(client)
        by_pond = {r["pond"]: r for r in history}
        assert all(r["status"] == "success" for r in history), history
        assert {r["pond"] for r in history} == {"transactions", "products", "sales", "reports"}
        for inlet in ("transactions", "products"):
            assert ts(by_pond[inlet]["finished_at"]) <= ts(by_pond["sales"]["started_at"])
        assert ts(by_pond["sales"]["finished_at"]) <= ts(by_pond["reports"]["started_at"])
        assert by_pond["reports"]["f"] == by_pond["sales"]["f"]
        detail = runs(client, pond="sales", ripples=True, lineage=False)[0]
        order = [a["ripple"] for a in detail["ripples"]]
        assert order.index("join_lines") > max(
            order.index("daily_sales"), order.index("price_tiers")
        )


def test_query_and_download_return_the_published_data(server: Server) -> None:
    deploy_demo(server)
    server.cli("trigger", "pulse", "reports")
    with server.client() as client:
        answer = client.post(
            "/query", json={"pond": "sales", "sql": "SELECT count(*) AS n FROM sale_line"}
        ).json()
        assert list(answer[0]) == ["n"] and answer[0]["n"] > 0
        preview = client.post("/query", json={"pond": "sales", "ripple": "join_lines"})
        assert preview.status_code in (200, 404)
        bad = client.post("/query", json={"pond": "sales", "sql": "SELECT * FROM nowhere"})
        assert bad.status_code == 400
        parquet = client.post(
            "/query",
            json={
                "pond": "reports",
                "sql": "SELECT * FROM reports.monthly_summary",
                "format": "parquet",
            },
        )
        assert parquet.status_code == 200
        table = pq.read_table(io.BytesIO(parquet.content))
        assert table.num_rows > 0
        published = sorted((server.root / "ponds" / "reports" / "m1" / "data").glob("*.parquet"))
        assert [p.name for p in published] == ["monthly_summary.parquet"]
        download = client.get("/ponds/reports/ripples/monthly_summary")
        assert download.status_code == 200
        names = zipfile.ZipFile(io.BytesIO(download.content)).namelist()
        assert any(n.endswith("monthly_summary.parquet") for n in names)
    out = server.cli("query", "reports", "--sql", "SELECT count(*) AS months FROM monthly_summary")
    assert "months" in out.stdout
