"""The job board: a command posted for a line reaches that line's waiting poll at once."""

from __future__ import annotations

import asyncio
import io
import zipfile
from pathlib import Path

from fastapi.testclient import TestClient

from duckstring.catchment.app import create_app
from duckstring.catchment.jobs import JobBoard
from duckstring.catchment.service import CatchmentConfig
from duckstring.duck.protocol import BeginRun, Shutdown


def test_a_posted_command_reaches_the_waiting_poll_within_one_turn_of_the_loop() -> None:
    # The events request that begins a run yields once before it answers its own Duck; the
    # poll of the Duck the run was given must be answered in that turn, before it.
    async def scenario() -> list[str]:
        board = JobBoard()
        order: list[str] = []

        async def poll() -> None:
            commands = await board.take("sink@1", wait=5)
            order.append(f"poll got {len(commands)}")

        async def events() -> None:
            board.post(
                "sink@1", BeginRun(seq=1, f=1, version="1.0.0", kind="pull", immediate_retries=0)
            )
            await asyncio.sleep(0)
            order.append("events answered")

        waiting = asyncio.create_task(poll())
        await asyncio.sleep(0.01)  # the poll is waiting
        await asyncio.gather(events(), waiting)
        return order

    assert asyncio.run(scenario()) == ["poll got 1", "events answered"]


def test_a_poll_with_nothing_to_take_answers_empty_after_its_wait() -> None:
    async def scenario() -> tuple[list[object], list[object]]:
        board = JobBoard()
        empty = await board.take("idle@1", wait=0.01)
        board.post("idle@1", Shutdown(reason="idle"))
        return empty, await board.take("idle@1", wait=5)

    empty, taken = asyncio.run(scenario())
    assert empty == [] and taken == [Shutdown(reason="idle")]


def begin(seq: int) -> BeginRun:
    return BeginRun(seq=seq, f=seq, version="1.0.0", kind="pull", immediate_retries=0)


def test_a_poll_drops_the_runs_its_duck_already_holds_and_waits_for_new_work() -> None:
    # A new Duck begins the runs handed to it when it started, then polls: its first poll
    # names them, and must neither bring them back nor return at once because of them.
    async def scenario() -> tuple[list[object], list[object], list[object]]:
        board = JobBoard()
        board.post("sink@1", begin(1))
        board.post("sink@1", begin(2))
        first = await board.take("sink@1", wait=0.01, held={1, 2})
        board.post("sink@1", begin(3))
        board.post("sink@1", Shutdown(reason="idle"))
        second = await board.take("sink@1", wait=5, held={3})
        board.post("sink@1", begin(4))
        third = await board.take("sink@1", wait=5, held={1})  # not queued: nothing to drop
        return first, second, third

    first, second, third = asyncio.run(scenario())
    assert first == []
    assert second == [Shutdown(reason="idle")]
    assert third == [begin(4)]


def test_the_jobs_route_reads_the_runs_a_duck_holds(tmp_path: Path) -> None:
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as entries:
        entries.writestr("pond.toml", '[pond]\nname = "solo"\nversion = "1.0.0"\n')
        entries.writestr(
            "src/pond.py", "from duckstring import ripple\n\n@ripple\ndef a(pond):\n    pass\n"
        )
    app = create_app(CatchmentConfig(root=tmp_path / "root"))
    with TestClient(app) as client:
        deployed = client.post(
            "/api/deploy", files={"pond": ("pond.zip", archive.getvalue(), "application/zip")}
        )
        assert deployed.status_code == 200, deployed.text
        board = app.state.catchment.board
        for seq in (7, 8):
            board.post("solo@1", begin(seq))
        answer = client.get("/api/duck/solo/1/jobs", params={"wait": 0, "held": [7, 9]})
        assert answer.status_code == 200
        assert [c["seq"] for c in answer.json()["commands"]] == [8]
        board.post("solo@1", begin(7))
        answer = client.get("/api/duck/solo/1/jobs", params={"wait": 0})
        assert [c["seq"] for c in answer.json()["commands"]] == [7]
        refused = client.get("/api/duck/solo/1/jobs", params={"wait": 0, "held": "x"})
        assert refused.status_code == 422


def test_a_run_that_ended_is_taken_back_from_the_queue() -> None:
    async def scenario() -> list[object]:
        board = JobBoard()
        board.withdraw_run("sink@1", 1)  # nothing queued for the line yet: nothing happens
        board.post("sink@1", begin(1))
        board.post("sink@1", begin(2))
        board.withdraw_run("sink@1", 1)
        return await board.take("sink@1", wait=5)

    assert asyncio.run(scenario()) == [begin(2)]
