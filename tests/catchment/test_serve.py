"""The Catchment's uvicorn server wakes once a second when idle, and stops at once when told."""

from __future__ import annotations

import asyncio
import signal
import socket
import time
from typing import Any

import uvicorn

from duckstring.catchment.serve import Server


async def _nothing(scope: dict[str, Any], receive: Any, send: Any) -> None:
    return None


def test_an_idle_server_wakes_about_once_a_second_and_stops_when_told() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = uvicorn.Config(_nothing, host="127.0.0.1", port=port, log_level="warning")
    server = Server(config)
    ticks: list[float] = []
    on_tick = server.on_tick

    async def counted(counter: int) -> bool:
        ticks.append(time.monotonic())
        return await on_tick(counter)

    server.on_tick = counted  # type: ignore[method-assign]

    async def run() -> float:
        serving = asyncio.create_task(server.serve())
        await asyncio.sleep(2.5)
        asked = time.monotonic()
        # As a signal would (uvicorn raises the signals it caught again once it stopped: this
        # one is harmless here).
        server.handle_exit(signal.SIGUSR1, None)
        await asyncio.wait_for(serving, timeout=10)
        return asked

    previous = signal.signal(signal.SIGUSR1, lambda number, frame: None)
    try:
        asked = asyncio.run(run())
    finally:
        signal.signal(signal.SIGUSR1, previous)
    # uvicorn's own loop ticks every 0.1 s (25 times here); this one at each second boundary,
    # and once more when the stop wakes it.
    assert 2 <= len(ticks) <= 5
    assert ticks[-1] - asked < 0.5  # the stop did not wait for the next second
