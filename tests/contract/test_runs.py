"""Run history: ``GET /api/runs``. ``version`` selects a line the way the Pond routes do and
answers that whole line's history; each row has the keys surface.md lists."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx

from contract.conftest import deploy, line
from e2e.projects import COUNTER, RAISES
from e2e.server import Server

#: surface.md's keys of a run, and the two this Catchment adds (the line's run number and why
#: it ran), which the web UI's run table uses.
RUN_KEYS = {
    "pond",
    "id",
    "major",
    "version",
    "f",
    "started_at",
    "finished_at",
    "status",
    "error",
    "traceback",
    "seq",
    "kind",
}
#: One row per Ripple attempt; ``f`` is the freshness the attempt ran at.
ATTEMPT_KEYS = {"ripple", "retry", "status", "f", "started_at", "finished_at", "error", "traceback"}


def runs(client: httpx.Client, **params: Any) -> list[dict[str, Any]]:
    answer = client.get("/runs", params=params)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert list(body) == ["runs"]
    rows: list[dict[str, Any]] = body["runs"]
    return rows


def pulse_and_wait(server: Server, client: httpx.Client, pond: str, runs_completed: int) -> None:
    assert client.post(f"/ponds/{pond}/pulse").json() == {"ok": True}
    server.wait_for(
        lambda c: line(c, f"{pond}@1")["runs_completed"] >= runs_completed,
        what=f"run {runs_completed} of {pond}",
    )


def is_instant(value: object) -> bool:
    return isinstance(value, str) and value.endswith("Z") and value[10] == "T"


def test_version_selects_the_line_and_answers_its_whole_history(
    server: Server, tmp_path: Path
) -> None:
    deploy(server, tmp_path, "source", COUNTER, kind="inlet")
    with server.client() as client:
        pulse_and_wait(server, client, "source", 1)
        deploy(server, tmp_path, "source", COUNTER, kind="inlet", version="1.1.0")
        pulse_and_wait(server, client, "source", 2)

        history = runs(client, pond="source", version="1.1.0")
        assert [(r["version"], r["status"]) for r in history] == [
            ("1.1.0", "success"),
            ("1.0.0", "success"),
        ]
        assert runs(client, pond="source", major=1, version="1.1.0") == history
        assert runs(client, pond="source") == history

        stale = client.get("/runs", params={"pond": "source", "version": "1.0.0"})
        assert stale.status_code == 422
        assert stale.json() == {
            "detail": "version 1.0.0 is not the selected version of source@1 (selected: 1.1.0)"
        }
        never = client.get("/runs", params={"pond": "source", "version": "1.2.0"})
        assert never.status_code == 404
        assert never.json() == {"detail": "Pond 'source' has no version '1.2.0'"}
        unknown = client.get("/runs", params={"pond": "nothing", "version": "1.0.0"})
        assert unknown.status_code == 404
        assert unknown.json() == {"detail": "unknown Pond 'nothing'"}
        alone = client.get("/runs", params={"version": "1.1.0"})
        assert alone.status_code == 422
        assert alone.json() == {"detail": "version selects a line of one Pond: give pond too"}


def test_each_run_row_and_attempt_row_has_the_documented_keys(
    server: Server, tmp_path: Path
) -> None:
    deploy(server, tmp_path, "source", COUNTER, kind="inlet")
    deploy(server, tmp_path, "fragile", RAISES, kind="inlet")
    with server.client() as client:
        pulse_and_wait(server, client, "source", 1)
        assert client.post("/ponds/fragile/pulse").json() == {"ok": True}
        server.wait_for(lambda c: line(c, "fragile@1")["is_failed"], what="fragile to fail")

        (good,) = runs(client, pond="source")
        assert set(good) == RUN_KEYS  # no "ripples" key unless asked for
        assert {k: good[k] for k in ("pond", "id", "major", "version", "status")} == {
            "pond": "source",
            "id": "source@1",
            "major": 1,
            "version": "1.0.0",
            "status": "success",
        }
        assert (good["error"], good["traceback"]) == (None, None)
        assert all(is_instant(good[k]) for k in ("f", "started_at", "finished_at"))
        assert isinstance(good["seq"], int) and isinstance(good["kind"], str)

        (bad,) = runs(client, pond="fragile")
        assert set(bad) == RUN_KEYS
        assert bad["status"] == "failed"
        assert isinstance(bad["error"], str) and "the input is broken" in bad["error"]
        assert isinstance(bad["traceback"], str) and "ValueError" in bad["traceback"]

        (detailed,) = runs(client, pond="source", ripples="true")
        assert set(detailed) == RUN_KEYS | {"ripples"}
        assert {k: detailed[k] for k in RUN_KEYS} == good
        (attempt,) = detailed["ripples"]
        assert set(attempt) == ATTEMPT_KEYS
        assert (attempt["ripple"], attempt["retry"], attempt["status"]) == ("numbers", 0, "success")
        assert (attempt["error"], attempt["traceback"]) == (None, None)
        assert all(is_instant(attempt[k]) for k in ("f", "started_at", "finished_at"))

        (failed,) = runs(client, pond="fragile", ripples="true")
        (failed_attempt,) = failed["ripples"]
        assert set(failed_attempt) == ATTEMPT_KEYS
        assert (failed_attempt["ripple"], failed_attempt["status"]) == ("fragile", "failed")
        assert "ValueError" in failed_attempt["traceback"]

        every = runs(client)
        assert {r["id"] for r in every} == {"source@1", "fragile@1"}
        assert all(set(r) == RUN_KEYS for r in every)
