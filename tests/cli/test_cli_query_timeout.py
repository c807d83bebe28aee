"""DUCKSTRING_QUERY_TIMEOUT and every other knob of a Catchment are read by every command that
starts one, before anything is registered or written: a bad value is one line and changes
nothing."""

from pathlib import Path

import pytest
from typer.testing import CliRunner

from duckstring.cli import app

runner = CliRunner()

#: The commands that start a Catchment.
STARTS = [
    ["catchment", "init", "-n", "dev", "-p", "1", "--root", "root", "-y"],
    ["catchment", "start", "dev"],
    ["demo", "--path", "demo", "-p", "1"],
]


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
@pytest.mark.parametrize("command", STARTS)
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


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("DUCKSTRING_DUCK_SPARES", "17", "must be at most 16, not '17'"),
        ("DUCKSTRING_DUCK_LINGER", "-1", "must be at least 0, not '-1'"),
        ("DUCKSTRING_DUCK_LINGER_MAX", "many", "must be a whole number, not 'many'"),
        ("DUCKSTRING_DUCK_LINGER_MIB", "2.5", "must be a whole number, not '2.5'"),
        ("DUCKSTRING_DUCK_PRESTART", "-2", "must not be negative, not '-2'"),
        ("DUCKSTRING_DUCK_NICE", "20", "must be at most 19, not '20'"),
        ("DUCKSTRING_DUCK_SILENCE", "0", "must be positive, not '0'"),
        ("DUCKSTRING_DUCK_STALL", "soon", "must be a number of seconds, not 'soon'"),
        ("DUCKSTRING_DUCK_HEARTBEAT", "nan", "must be positive, not 'nan'"),
        ("DUCKSTRING_DUCK_ORPHAN", "-5", "must be positive, not '-5'"),
    ],
)
@pytest.mark.parametrize("command", STARTS)
def test_a_bad_duck_knob_stops_the_start_with_one_line(
    home: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    command: list[str],
    variable: str,
    value: str,
    message: str,
) -> None:
    monkeypatch.setenv(variable, value)
    result = runner.invoke(app, command)
    assert result.exit_code == 1
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert lines == [f"error: {variable} {message}"], result.stderr
    assert not home.exists(), "nothing is registered"
    assert sorted(path.name for path in tmp_path.iterdir()) == [], "nothing is written"
