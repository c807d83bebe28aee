"""Every test gets its own Duckstring home: no test reads or writes ~/.duckstring."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def duckstring_home(
    tmp_path_factory: pytest.TempPathFactory,
    monkeypatch: pytest.MonkeyPatch,
    request: pytest.FixtureRequest,
) -> Path:
    home = tmp_path_factory.mktemp("dshome")
    monkeypatch.setenv("DUCKSTRING_HOME", str(home))
    return home
