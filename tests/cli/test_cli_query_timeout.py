"""DUCKSTRING_QUERY_TIMEOUT is read by every command that starts a Catchment, before anything
is registered or written: a bad value is one line and changes nothing."""

from pathlib import Path

import pytest
from typer.testing import CliRunner

from duckstring.cli import app

runner = CliRunner()


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("DUCKSTRING_HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)
    return tmp_path / "home"


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("soon", "must be a number of seconds, not 'soon'"),
        ("0", "must be positive, not '0'"),
        ("-5", "must be positive, not '-5'"),
        ("inf", "must be at most"),
    ],
)
@pytest.mark.parametrize(
    "command",
    [
        ["catchment", "init", "-n", "dev", "-p", "1", "--root", "root", "-y"],
        ["catchment", "start", "dev"],
        ["demo", "--path", "demo", "-p", "1"],
    ],
)
def test_a_bad_query_timeout_stops_the_start_with_one_line(
    home: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    command: list[str],
    value: str,
    message: str,
) -> None:
    monkeypatch.setenv("DUCKSTRING_QUERY_TIMEOUT", value)
    result = runner.invoke(app, command)
    assert result.exit_code == 1
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"error: DUCKSTRING_QUERY_TIMEOUT {message}")
    assert not home.exists(), "nothing is registered"
    assert sorted(path.name for path in tmp_path.iterdir()) == [], "nothing is written"
