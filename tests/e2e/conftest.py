from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from e2e.server import Server


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    running = Server(root=tmp_path / "root", home=tmp_path / "home")
    running.start()
    yield running
    try:
        running.close()
    finally:
        print("---- Catchment log ----")
        print(running.log_tail(6000))
