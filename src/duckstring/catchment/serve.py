"""Serving the Catchment with uvicorn, without uvicorn's ten wake-ups a second.

``uvicorn.Server`` wakes every 0.1 s to refresh its ``Date`` header (once a second) and to see
whether it was asked to stop. On an idle Catchment those wake-ups were its whole CPU use:
~0.25 % of a core, measured, on the 2-core development machine. :class:`Server` wakes once a
second for the header, and at once when a signal asks it to stop.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from types import FrameType
from typing import Any

import uvicorn


class Server(uvicorn.Server):
    """A uvicorn server whose main loop waits for the next second or a stop, not 0.1 s."""

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self._wake: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    async def main_loop(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        # ``on_tick(0)`` refreshes the Date header and says whether to stop.
        while not await self.on_tick(0):
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=1.0 - time.time() % 1.0)
            self._wake.clear()

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        super().handle_exit(sig, frame)
        loop, wake = self._loop, self._wake
        if loop is not None and wake is not None and not loop.is_closed():
            loop.call_soon_threadsafe(wake.set)


def serve(app: Any, *, host: str, port: int, log_level: str = "warning") -> None:
    """Serve ``app`` until SIGINT or SIGTERM (running requests get 5 s to finish)."""
    config = uvicorn.Config(
        app, host=host, port=port, log_level=log_level, timeout_graceful_shutdown=5
    )
    Server(config).run()
