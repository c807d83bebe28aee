"""``why`` on the demo through a real Catchment, real Ducks, HTTP and the CLI: a queued Sink, a
blocked Sink behind a failing Source, a windowed Inlet outside its window, and a past run."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from e2e.server import Server, status_of, wait_until
from e2e.test_catchment_demo import deploy_demo


def why(client: httpx.Client, name: str, **params: Any) -> dict[str, Any]:
    answer = client.get(f"/ponds/{name}/why", params=params)
    assert answer.status_code == 200, answer.text
    document: dict[str, Any] = answer.json()
    return document


def kinds(document: dict[str, Any]) -> list[tuple[str, str]]:
    return [(r["kind"], r["line"]) for r in document["reasons"]]


def test_why_a_queued_sink_and_why_a_past_run_happened(server: Server) -> None:
    deploy_demo(server)
    tomorrow = (datetime.now(UTC) + timedelta(days=1)).replace(
        hour=2, minute=0, second=0, microsecond=0
    )
    with server.client() as client:
        # transactions@1 opens only tomorrow: a Tap on reports waits there, queued.
        window = {"name": "nightly", "start_anchor": tomorrow.isoformat(), "freq_unit": "DAY"}
        window["duration_seconds"] = 3600.0
        assert client.post("/ponds/transactions/windows", json=window).json()["ok"]
        assert client.post("/ponds/reports/tap").json()["ok"]
        reports = wait_until(
            lambda: (d := why(client, "reports"))["reasons"][-1]["kind"] == "window_closed" and d,
            timeout=30,
        )
        assert reports["state"] == "queued"
        assert kinds(reports) == [
            ("holds_pull", "reports@1"),
            ("waits_for_source", "sales@1"),
            ("holds_pull", "reports@1"),
            ("waits_for_source", "transactions@1"),
            ("holds_pull", "sales@1"),
            ("window_closed", "transactions@1"),
        ]
        closed = reports["reasons"][-1]
        assert closed["rule"] == "Windows (Inlets)" and closed["detail"]["window"] == "nightly"
        opens = datetime.fromtimestamp(closed["detail"]["opens"] / 1e6, UTC)
        assert opens == tomorrow
        assert reports["summary"].startswith("queued: holds pull from the Tap on reports@1")

        inlet = why(client, "transactions")
        assert inlet["state"] == "queued" and inlet["reasons"][-1]["kind"] == "window_closed"
        # products@1 ran (no window): why its run 1 happened.
        products = wait_until(lambda: status_of(client, "products@1")["end_f"], timeout=30)
        assert products
        run = why(client, "products", run=1)
        assert run["run"]["seq"] == 1 and run["run"]["status"] == "success"
        assert run["cause"]["kind"] == "pull"
        assert (run["cause"]["by"], run["cause"]["via"]) == ("sales@1", "sink")
        assert (run["cause"]["origin"], run["cause"]["trigger"]) == ("reports@1", "tap")
        assert run["cause"]["source"] is None and run["cause"]["source_f"] == run["run"]["f"]
        assert [r["kind"] for r in run["reasons"]] == ["started_by", "source_freshness"]

        missing = client.get("/ponds/products/why", params={"run": 999})
        assert missing.status_code == 404 and "products@1 has no run 999" in missing.text
        unknown = client.get("/ponds/nowhere/why")
        assert unknown.status_code == 404 and "unknown Pond 'nowhere'" in unknown.text
        assert client.get("/ponds/products/why", params={"run": 0}).status_code == 422

    out = server.cli("why", "reports").stdout
    assert "reports@1 is queued" in out
    lines = out.splitlines()
    assert "holds pull from the Tap on reports@1" in lines[1]
    assert "waiting for window nightly on transactions@1" in lines[-1]
    assert lines[-1].index("└") > lines[2].index("└")  # indented, root last
    as_json = json.loads(server.cli("why", "products", "--run", "1", "--json").stdout)
    assert as_json["cause"]["origin"] == "reports@1"
    text = server.cli("why", "products", "--run", "1").stdout
    assert "run 1 of products@1 was started by pull from sales@1 (Tap on reports@1)" in text
    bad = server.cli("why", "products", "--run", "999", check=False)
    assert bad.returncode == 1 and "products@1 has no run 999" in bad.stderr
    both = server.cli("why", "products", "--run", "1", "--forecast", check=False)
    assert both.returncode == 2 and "give one" in both.stderr


def test_why_a_sink_is_blocked_names_the_failing_source(server: Server) -> None:
    projects = deploy_demo(server)
    broken = projects / "products"
    code = broken / "src" / "pond.py"
    code.write_text(code.read_text().replace("    pause(2)\n", "    pause(2)\n    1 / 0\n", 1))
    assert "1 / 0" in code.read_text()
    manifest = broken / "pond.toml"
    manifest.write_text(manifest.read_text().replace('version = "1.0.0"', 'version = "1.0.1"'))
    server.cli("pond", "deploy", "-y", cwd=broken)
    with server.client() as client:
        assert client.post("/ponds/reports/tap").json()["ok"]
        wait_until(lambda: status_of(client, "reports@1")["status"] == "blocked", timeout=60)
        wait_until(lambda: status_of(client, "products@1")["status"] == "failed", timeout=60)
        reports = why(client, "reports")
        assert reports["state"] == "blocked"
        assert kinds(reports) == [
            ("blocked_by", "sales@1"),
            ("blocked_by", "products@1"),
            ("failed", "products@1"),
            ("budget_spent", "products@1"),
        ]
        failed = reports["reasons"][2]
        assert failed["rule"] == "Faults"
        assert "ZeroDivisionError" in failed["detail"]["error"]
        assert failed["detail"]["hint"] == "duckstring control clear products"
    out = server.cli("why", "reports").stdout
    assert "reports@1 is blocked" in out and "duckstring control clear products" in out


def test_why_remembers_a_failure_across_a_restart(server: Server) -> None:
    projects = deploy_demo(server)
    code = projects / "products" / "src" / "pond.py"
    code.write_text(code.read_text().replace("    pause(2)\n", "    pause(2)\n    1 / 0\n", 1))
    manifest = projects / "products" / "pond.toml"
    manifest.write_text(manifest.read_text().replace('version = "1.0.0"', 'version = "1.0.1"'))
    server.cli("pond", "deploy", "-y", cwd=projects / "products")
    with server.client() as client:
        assert client.post("/ponds/products/tap").json()["ok"]
        wait_until(lambda: status_of(client, "products@1")["status"] == "failed", timeout=60)
    server.stop()
    server.start()
    with server.client() as client:
        failed = why(client, "products")
        assert failed["reasons"][0]["kind"] == "failed"
        assert "ZeroDivisionError" in failed["reasons"][0]["detail"]["error"]
        assert failed["reasons"][0]["detail"]["seq"] == 1
        run = why(client, "products", run=1)
        assert run["cause"]["trigger"] == "tap" and run["run"]["status"] == "failed"
        assert [r["kind"] for r in run["reasons"]] == ["started_by", "source_freshness", "failed"]
