"""The pond and puddle command groups, in-process: exit codes, messages, no stray tracebacks."""

from pathlib import Path

import pytest
from typer.testing import CliRunner

from duckstring.cli import app

runner = CliRunner()


def invoke(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


def assert_one_line_error(code: int, stderr: str, *fragments: str) -> None:
    assert code == 1
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    assert lines[0].startswith("error: ")
    for fragment in fragments:
        assert fragment in lines[0]
    assert "Traceback" not in stderr


def test_init_scaffolds_a_project_that_hydrates_and_runs(
    in_tmp: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    code, out, _ = invoke("pond", "init", "sales")
    assert code == 0 and "Created Pond sales" in out
    project = in_tmp / "sales"
    assert sorted(str(p.relative_to(project)) for p in project.rglob("*")) == [
        ".gitignore",
        "README.md",
        "pond.toml",
        "src",
        "src/pond.py",
        "src/puddles.py",
    ]
    assert "puddles/" in (project / ".gitignore").read_text().splitlines()
    monkeypatch.chdir(project / "src")  # commands find pond.toml from a subfolder too
    assert invoke("pond", "hydrate")[0] == 0
    code, out, _ = invoke("pond", "run")
    assert code == 0 and "✓ build" in out


def test_init_refuses_a_bad_name_and_an_occupied_folder(in_tmp: Path) -> None:
    assert_one_line_error(*invoke("pond", "init", "Sales")[::2], "Pond name 'Sales'")
    (in_tmp / "taken").mkdir()
    (in_tmp / "taken" / "notes.txt").write_text("mine")
    assert_one_line_error(*invoke("pond", "init", "taken")[::2], "already exists")
    assert (in_tmp / "taken" / "notes.txt").read_text() == "mine"


def test_demo_refuses_to_overwrite_and_writes_nothing(in_tmp: Path) -> None:
    (in_tmp / "sales").mkdir()
    (in_tmp / "sales" / "pond.toml").write_text("mine")
    assert_one_line_error(*invoke("pond", "demo")[::2], "sales")
    assert sorted(p.name for p in in_tmp.iterdir()) == ["sales"]


def test_a_bad_manifest_is_one_line_naming_file_and_key(in_tmp: Path) -> None:
    (in_tmp / "pond.toml").write_text('[pond]\nname = "sales"\nversion = "1.0"\n')
    for command in (("pond", "hydrate"), ("pond", "run"), ("puddle", "ls")):
        assert_one_line_error(*invoke(*command)[::2], "pond.toml", "[pond] version", "SemVer")


def test_outside_a_project_says_so(in_tmp: Path) -> None:
    assert_one_line_error(*invoke("pond", "run")[::2], "no pond.toml")


@pytest.fixture
def failing_project(in_tmp: Path) -> Path:
    (in_tmp / "src").mkdir()
    (in_tmp / "pond.toml").write_text(
        '[pond]\nname = "sales"\nversion = "1.0.0"\n[sources]\ntransactions = "1.0.0"\n'
    )
    (in_tmp / "src" / "pond.py").write_text(
        "from duckstring import ripple\n\n"
        "@ripple\n"
        "def fine(pond):\n"
        "    pond.write_table('fine', pond.con.sql('SELECT 1 AS x'))\n\n"
        "@ripple(parents=[fine])\n"
        "def broken(pond):\n"
        "    raise ValueError('bad join key')\n"
    )
    (in_tmp / "src" / "puddles.py").write_text(
        "from duckstring import puddle\n\n"
        "@puddle('transactions.lines')\n"
        "def lines(p):\n"
        "    return p.con.sql('SELECT 1 AS id')\n\n"
        "@puddle('transactions.stores')\n"
        "def stores(p):\n"
        "    return p.catchment().get('stores')\n"
    )
    return in_tmp


def test_a_failing_ripple_shows_its_traceback_and_exits_non_zero(failing_project: Path) -> None:
    code, out, err = invoke("pond", "run")
    assert code == 1
    assert "✓ fine" in out and "✗ broken" in out
    assert "Traceback" in err and 'pond.py", line 9, in broken' in err
    assert "ValueError: bad join key" in err
    assert err.strip().splitlines()[-1].startswith("error: pond run of sales failed")
    assert not (failing_project / "puddles" / "out").exists()


def test_run_of_an_unknown_ripple_names_the_known_ones(failing_project: Path) -> None:
    assert_one_line_error(*invoke("pond", "run", "--ripple", "nope")[::2], "fine, broken")


def test_running_one_ripple_skips_the_failing_one(failing_project: Path) -> None:
    code, out, _ = invoke("pond", "run", "--ripple", "fine")
    assert code == 0 and "broken" not in out


def test_hydrate_warns_about_undefined_sources_and_needs_a_registered_catchment(
    failing_project: Path,
) -> None:
    code, _, err = invoke("pond", "hydrate", "-s", "weather")
    assert code == 0 and "no puddle defines Source 'weather'; skipped" in err
    assert_one_line_error(
        *invoke("pond", "hydrate", "--from-catchment")[::2], "no Catchment is registered"
    )
    assert_one_line_error(
        *invoke("pond", "hydrate", "-c", "prod")[::2],
        "puddle 'transactions.stores'",
        "no Catchment named 'prod' is registered",
    )


def test_puddle_commands_read_puddles_and_output(failing_project: Path) -> None:
    (failing_project / "src" / "puddles.py").write_text(
        "from duckstring import puddle\n\n"
        "@puddle('transactions.lines')\n"
        "def lines(p):\n"
        "    return p.con.sql('SELECT range AS id FROM range(25)')\n"
    )
    assert invoke("pond", "hydrate")[0] == 0
    assert invoke("pond", "run", "--ripple", "fine")[0] == 0

    code, out, _ = invoke("puddle", "ls")
    assert code == 0
    assert "transactions.lines" in out and "puddle" in out and "25" in out
    assert "sales.fine" in out and "output" in out
    assert "ago" in out or "just now" in out

    code, out, _ = invoke("puddle", "show", '"transactions"."lines"', "-n", "3")
    assert code == 0 and "3 of 25 rows" in out

    code, out, _ = invoke(
        "puddle",
        "query",
        'SELECT count(*) AS n FROM "transactions"."lines" CROSS JOIN sales.fine CROSS JOIN fine',
    )
    assert code == 0 and "25" in out

    assert_one_line_error(*invoke("puddle", "show", "sales.nope")[::2], "no local table sales.nope")
    assert_one_line_error(*invoke("puddle", "show", "nodot")[::2], "not a table address")
    assert_one_line_error(
        *invoke("puddle", "query", "SELECT * FROM missing_table")[::2], "query failed"
    )
