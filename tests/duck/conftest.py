"""Fixtures of the Duck tests (the helpers live in ``duck_support``)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from duck_support import Line, write_version


@pytest.fixture
def line(tmp_path: Path) -> Iterator[Line]:
    made = Line(tmp_path / "root")
    made.root.mkdir(parents=True, exist_ok=True)
    write_version(made.layout)
    yield made
    for path in (made.root / "hold").glob("*") if (made.root / "hold").exists() else []:
        path.unlink()
    for executor in made.executors:
        if executor.exit_code is None:
            executor.terminate()
            executor.join(5)
        executor.close()
