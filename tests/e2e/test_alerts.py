"""Alerts through a real Catchment, real Ducks and a real receiver of Apprise ``json://`` posts."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx

from e2e.projects import COUNTER, RAISES, copy_pond, write_pond
from e2e.receiver import Receiver
from e2e.server import Server, status_of, wait_until
from e2e.test_catchment_demo import deploy_demo

#: Retries come quickly, and an attempt on a hanging receiver gives up within seconds.
FAST = {"DUCKSTRING_ALERT_BACKOFF": "0.2", "DUCKSTRING_ALERT_TIMEOUT": "8"}


def deploy(server: Server, project: Path) -> None:
    server.cli("pond", "deploy", "-y", cwd=project)


def deliveries(client: httpx.Client, name: str | None = None) -> list[dict[str, Any]]:
    params = {} if name is None else {"name": name}
    answer: list[dict[str, Any]] = client.get("/alerts/log", params=params).json()["deliveries"]
    return answer[::-1]  # oldest first


def failing_chain(server: Server, tmp_path: Path) -> None:
    """source (an Inlet that raises) -> middle -> sink."""
    deploy(server, write_pond(tmp_path, "source", RAISES, kind="inlet"))
    deploy(server, copy_pond(tmp_path, "middle", "source", "numbers", table="middle"))
    deploy(server, copy_pond(tmp_path, "sink", "middle", "middle", table="sink", kind="outlet"))


def test_a_failing_chain_alerts_once_about_its_root_then_once_on_recovery(
    tmp_path: Path,
) -> None:
    with Receiver() as receiver, Server(tmp_path / "root", tmp_path / "home", env=FAST) as server:
        server.connect_cli()
        failing_chain(server, tmp_path)
        server.cli("alert", "add", "pager", "--on", "failure", "--to", receiver.url())
        server.cli("alert", "add", "all-clear", "--on", "recovery", "--to", receiver.url())
        with server.client() as client:
            client.post("/ponds/sink/tap")
            server.wait_for(lambda c: status_of(c, "source@1")["is_failed"], what="the failure")
            assert status_of(client, "sink@1")["is_blocked"]
            assert wait_until(lambda: len(receiver.posts) >= 1, 20)
            # More demand while it stays failed: nothing more to tell.
            client.post("/ponds/sink/tap")
            client.post("/ponds/source/tap")

            fixed = write_pond(tmp_path / "fixed", "source", COUNTER, version="1.0.1", kind="inlet")
            deploy(server, fixed)
            client.post("/ponds/source/clear")
            assert wait_until(lambda: len(receiver.posts) >= 2, 20)
            client.post("/ponds/sink/tap")
            server.wait_for(
                lambda c: status_of(c, "sink@1")["runs_completed"] >= 1, what="the sink's run"
            )
            log = deliveries(client)
        failure, recovery, *more = receiver.posts
        assert more == []
        assert failure["title"] == "Duckstring: source@1 failed"
        assert failure["type"] == "failure"
        assert "Blocked downstream (2): middle@1, sink@1" in failure["message"]
        assert "ValueError: the input is broken" in failure["message"]
        assert recovery["title"] == "Duckstring: source@1 recovered"
        assert "No longer blocked (2): middle@1, sink@1" in recovery["message"]
        assert [(d["rule"], d["kind"], d["line"], d["ok"]) for d in log] == [
            ("pager", "failure", "source@1", True),
            ("all-clear", "recovery", "source@1", True),
        ]


def test_a_receiver_that_fails_twice_gets_the_alert_on_the_third_try(tmp_path: Path) -> None:
    with (
        Receiver(statuses=(500, 500)) as receiver,
        Server(tmp_path / "root", tmp_path / "home", env=FAST) as server,
    ):
        server.connect_cli()
        server.cli("alert", "add", "pager", "--on", "failure", "--to", receiver.url())
        failed = server.cli("alert", "test", "pager", check=False)
        assert failed.returncode == 1 and "500" in failed.stderr  # the first attempt's answer
        with server.client() as client:
            assert wait_until(lambda: len(deliveries(client, "pager")) >= 3, 20)
            log = deliveries(client, "pager")
        assert [(d["attempt"], d["ok"]) for d in log] == [(1, False), (2, False), (3, True)]
        assert all("500" in d["error"] for d in log[:2]) and log[2]["state"] == "sent"
        assert len(receiver.posts) == 3
        shown = server.cli("alert", "log", "pager").stdout
        assert shown.count("failed") == 2 and "delivered" in shown


def test_a_hanging_receiver_does_not_delay_another_lines_run(tmp_path: Path) -> None:
    with Receiver() as receiver, Server(tmp_path / "root", tmp_path / "home", env=FAST) as server:
        receiver.hanging.set()
        server.connect_cli()
        deploy(server, write_pond(tmp_path, "broken", RAISES, kind="inlet"))
        deploy(server, write_pond(tmp_path, "steady", COUNTER, kind="inlet"))
        server.cli("alert", "add", "pager", "--on", "failure", "--to", receiver.url())
        with server.client() as client:
            client.post("/ponds/steady/tap")  # its Duck is warm: what follows measures dispatch
            server.wait_for(lambda c: status_of(c, "steady@1")["runs_completed"] == 1)
            client.post("/ponds/broken/tap")
            assert receiver.arrived.wait(20)  # the alert is stuck in the receiver now
            started = time.monotonic()
            client.post("/ponds/steady/tap")
            server.wait_for(lambda c: status_of(c, "steady@1")["runs_completed"] == 2)
            took = time.monotonic() - started
            stuck = deliveries(client)
        assert stuck == []  # the attempt still hung while the run went through
        assert took < 3.0, f"a run took {took:.2f} s while a receiver hung"


def test_rules_and_pending_deliveries_survive_a_restart_and_a_redeploy(tmp_path: Path) -> None:
    with Receiver(statuses=(500,) * 1000) as receiver:
        env = {**FAST, "DUCKSTRING_ALERT_ATTEMPTS": "50"}
        server = Server(tmp_path / "root", tmp_path / "home", env=env)
        with server:
            server.connect_cli()
            deploy(server, write_pond(tmp_path, "counter", COUNTER, kind="inlet"))
            server.cli(
                "alert",
                "add",
                "pager",
                "--on",
                "failure",
                "--pond",
                "counter",
                "--to",
                receiver.url(),
            )
            server.cli("alert", "add", "late", "1h", "--on", "stale", "--to", receiver.url())
            server.cli("alert", "add", "ahead", "--on", "forecast-breach", "--to", receiver.url())
            server.cli("alert", "test", "pager", "--no-wait")
            assert wait_until(lambda: len(receiver.posts) >= 1, 20)
            server.stop()
            receiver.statuses.clear()  # it answers now: the notification waits in the outbox
            server.start()
            with server.client() as client:
                assert wait_until(lambda: any(d["ok"] for d in deliveries(client, "pager")), 30)
                log = deliveries(client, "pager")
            assert [d["ok"] for d in log] == [False] * (len(log) - 1) + [True]
            assert log[-1]["kind"] == "test" and len({d["notification"] for d in log}) == 1
            deploy(
                server,
                write_pond(tmp_path / "again", "counter", COUNTER, version="1.0.1", kind="inlet"),
            )
            listed = server.cli("alert", "ls").stdout
            with server.client() as client:
                rules = {r["name"]: r for r in client.get("/alerts").json()["alerts"]}
        assert set(rules) == {"ahead", "late", "pager"}
        assert rules["late"]["duration"] == "1h" and rules["pager"]["ponds"] == ["counter"]
        assert rules["ahead"]["state"] == "active" and rules["ahead"]["duration"] is None
        assert "forecast-breach" in listed and "stale 1h" in listed


def test_bad_rules_are_refused_with_the_field_named(server: Server) -> None:
    server.connect_cli()
    with server.client() as client:
        good = {"name": "pager", "on": "failure", "to": "json://127.0.0.1:9/x"}
        assert client.post("/alerts", json=good).json() == {"ok": True}
        duplicate = client.post("/alerts", json=good)
        assert duplicate.status_code == 409 and "pager" in duplicate.json()["detail"]
        for change, field in (
            ({"to": "nonsense://x"}, "to"),
            ({"on": "stale", "duration": "soon"}, "duration"),
            ({"on": "sometimes"}, "on"),
        ):
            refused = client.post("/alerts", json={**good, "name": "other", **change})
            assert refused.status_code == 422
            assert refused.json()["detail"].startswith(f"{field}: ")
        assert client.delete("/alerts/missing").status_code == 404
        assert client.post("/alerts/missing/test").status_code == 404
        assert client.get("/alerts/log", params={"name": "missing"}).status_code == 404
        assert [r["name"] for r in client.get("/alerts").json()["alerts"]] == ["pager"]
        assert client.delete("/alerts/pager").json() == {"ok": True}
        assert client.get("/alerts").json() == {"alerts": []}
    stale_without_bound = server.cli(
        "alert", "add", "late", "--on", "stale", "--to", "json://127.0.0.1:9/x", check=False
    )
    assert stale_without_bound.returncode == 2 and "needs its bound" in stale_without_bound.stderr


def test_a_tide_the_forecast_says_cannot_hold_alerts_before_it_is_breached(
    tmp_path: Path,
) -> None:
    """The demo at its documented durations (join_lines takes 3 s): a Tide of 1 s on reports
    cannot be held, and the forecast-breach rule says so, naming the bottleneck, once."""
    env = {**FAST, "DUCKSTRING_DEMO_SCALE": "1"}
    with Receiver() as receiver, Server(tmp_path / "root", tmp_path / "home", env=env) as server:
        server.connect_cli()
        deploy_demo(server)
        server.cli("trigger", "pulse", "reports", "--silent")  # measure the Ripples once
        with server.client() as client:
            server.wait_for(
                lambda c: status_of(c, "reports@1")["runs_completed"] >= 1, 90, "a first Pulse"
            )
            server.cli(
                "alert", "add", "ahead", "--on", "forecast-breach", "--pond", "reports",
                "--to", receiver.url(),
            )  # fmt: skip
            client.post("/ponds/reports/tide", json={"bound_seconds": 1}).raise_for_status()
            assert wait_until(lambda: len(receiver.posts) >= 1, 30)
            [post] = receiver.posts
            assert post["title"] == "Duckstring: reports@1 will be fresh too late"
            assert "cannot hold its Tide of 1s" in post["message"]
            assert "bottleneck sales@1 join_lines" in post["message"]
            [delivery] = deliveries(client, "ahead")
            assert delivery["kind"] == "forecast-breach" and delivery["ok"]
            client.post("/ponds/reports/sleep", json={"upstream": True}).raise_for_status()
        assert len(receiver.posts) == 1
