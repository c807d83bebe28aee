"""Catchment names on the command line: one rule for every command that takes one, refused
with one clear line that changes nothing, and kept exactly as spelt."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from duckstring.cli import app
from duckstring.remote.config import Config, Registration, config_path, save

runner = CliRunner()

BAD_NAMES = ["a/b", "..", "a..b", "-x", ".hidden", "a b", "", "x" * 65]


def commands_naming(name: str, tmp_path: Path) -> list[list[str]]:
    """Every way of naming a Catchment: as a registration to make, and as -c/--catchment."""
    # `--option=value` and `--` so that a name such as "-x" reaches the rule, not the parser.
    return [
        ["catchment", "init", f"--name={name}", "-y"],
        ["catchment", "connect", f"--name={name}", "--path", "http://127.0.0.1:9", "-y"],
        ["catchment", "start", "--", name],
        ["catchment", "set-default", "--", name],
        ["catchment", "disconnect", "--purge", "--", name],
        ["catchment", "download", f"--catchment={name}", "-y", "--path", str(tmp_path / "dl")],
        ["status", "--once", f"--catchment={name}"],
        ["status", "--json", f"--catchment={name}"],
        ["trigger", "pulse", "sales", f"--catchment={name}", "--silent"],
        ["control", "wake", "sales", f"--catchment={name}"],
        ["query", "sales", "--sql", "SELECT 1", f"--catchment={name}"],
        ["get", "sales", "lines", f"--catchment={name}", "--path", str(tmp_path / "get")],
    ]


@pytest.fixture
def registered(duckstring_home: Path) -> bytes:
    """A config with one local and one remote registration; its bytes."""
    config = Config(default="dev")
    config.catchments["dev"] = Registration(
        "dev", "http://127.0.0.1:9", root=str(duckstring_home / "dev"), host="127.0.0.1", port=9
    )
    config.catchments["Prod"] = Registration("Prod", "http://127.0.0.1:8")
    save(config)
    return config_path().read_bytes()


def one_line_error(args: list[str]) -> str:
    result = runner.invoke(app, args)
    assert result.exit_code == 1, (args, result.output)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, (args, result.stderr)
    assert "Traceback" not in result.output
    assert result.stdout == "", (args, result.stdout)
    return lines[0]


@pytest.mark.parametrize("name", BAD_NAMES)
def test_every_command_refuses_a_bad_catchment_name_and_changes_nothing(
    name: str, registered: bytes, duckstring_home: Path, tmp_path: Path
) -> None:
    before = sorted(path.name for path in duckstring_home.iterdir())
    # The rule's own words, not "no Catchment named ... is registered".
    says = "error: a Catchment name" if not name else f"error: Catchment name {name!r} "
    for args in commands_naming(name, tmp_path):
        line = one_line_error(args)
        assert line.startswith(says), (args, line)
        assert config_path().read_bytes() == registered, args
        assert sorted(path.name for path in duckstring_home.iterdir()) == before, args
    assert not (tmp_path / "dl").exists() and not (tmp_path / "get").exists()


def test_names_are_matched_exactly_and_listed_as_spelt(registered: bytes) -> None:
    line = one_line_error(["status", "--once", "-c", "prod"])
    assert "no Catchment named 'prod' is registered (known: dev, Prod)" in line
    added = runner.invoke(
        app, ["catchment", "connect", "-n", "prod", "--path", "http://127.0.0.1:7"], input="n\n"
    )
    assert added.exit_code == 0, added.output
    listed = runner.invoke(app, ["catchment", "list"])
    names = re.findall(r"^\W*(\S+)\s+http://", listed.stdout, re.M)
    assert names == ["dev", "Prod", "prod"]
    moved = runner.invoke(app, ["catchment", "set-default", "Prod"])
    assert moved.exit_code == 0 and "Prod is the default Catchment" in moved.stdout
    text = config_path().read_text()
    assert 'default = "Prod"' in text
    assert '[catchments."Prod"]' in text and '[catchments."prod"]' in text


def test_init_refuses_a_root_another_registration_keeps_even_in_another_case(
    registered: bytes, duckstring_home: Path
) -> None:
    line = one_line_error(["catchment", "init", "-n", "DEV", "-y"])
    assert f"Catchment 'dev' already keeps its data in {duckstring_home / 'dev'}" in line
    assert config_path().read_bytes() == registered


def test_init_refuses_a_name_whose_root_would_be_the_config_file(registered: bytes) -> None:
    line = one_line_error(["catchment", "init", "-n", "config.toml", "-y"])
    assert "is not a folder a Catchment can keep its data in" in line
    assert config_path().read_bytes() == registered
