"""The job board: a command posted for a line reaches that line's waiting poll at once."""

from __future__ import annotations

import asyncio

from duckstring.catchment.jobs import JobBoard
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
