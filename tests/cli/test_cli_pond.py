"""The pond and puddle command groups, in-process: exit codes, messages, no stray tracebacks."""

import tomllib
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


def listing(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


SCAFFOLD = [".gitignore", "README.md", "pond.toml", "src", "src/pond.py", "src/puddles.py"]


def test_init_makes_the_current_folder_a_project_that_hydrates_and_runs(
    in_tmp: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    code, out, err = invoke("pond", "init", "sales")
    assert code == 0 and err == ""
    assert f"Created Pond sales in {in_tmp}" in out
    assert listing(in_tmp) == SCAFFOLD  # here, not in a sales/ subfolder
    manifest = tomllib.loads((in_tmp / "pond.toml").read_text())
    assert manifest["pond"] == {"name": "sales", "version": "0.1.0"}
    assert "puddles/" in (in_tmp / ".gitignore").read_text().splitlines()
    assert (in_tmp / "README.md").read_text().startswith("# sales\n")
    monkeypatch.chdir(in_tmp / "src")  # commands find pond.toml from a subfolder too
    assert invoke("pond", "hydrate")[0] == 0
    code, out, _ = invoke("pond", "run")
    assert code == 0 and "✓ build" in out


def test_init_refuses_a_folder_that_has_a_pond_toml_and_writes_nothing(in_tmp: Path) -> None:
    (in_tmp / "pond.toml").write_text("mine")
    assert_one_line_error(
        *invoke("pond", "init", "sales")[::2], f"{in_tmp / 'pond.toml'} already exists"
    )
    assert listing(in_tmp) == ["pond.toml"]
    assert (in_tmp / "pond.toml").read_text() == "mine"
    # A second init of a folder it made is refused the same way.
    (in_tmp / "pond.toml").unlink()
    assert invoke("pond", "init", "sales")[0] == 0
    before = {path: (in_tmp / path).read_bytes() for path in SCAFFOLD if path != "src"}
    assert_one_line_error(*invoke("pond", "init", "other")[::2], "already exists")
    assert {path: (in_tmp / path).read_bytes() for path in before} == before


def test_init_refuses_a_bad_name_and_writes_nothing(in_tmp: Path) -> None:
    assert_one_line_error(*invoke("pond", "init", "Sales")[::2], "Pond name 'Sales'")
    assert_one_line_error(*invoke("pond", "init", "../up")[::2], "Pond name '../up'")
    assert listing(in_tmp) == []
    (in_tmp / "src").write_text("a file where the folder goes")
    assert_one_line_error(*invoke("pond", "init", "sales")[::2], "src is in the way")
    assert listing(in_tmp) == ["src"]


def test_init_keeps_the_users_files_and_says_so(in_tmp: Path) -> None:
    (in_tmp / "README.md").write_text("my notes\n")
    (in_tmp / ".gitignore").write_text("*.log\n")
    (in_tmp / "data.csv").write_text("a,b\n")
    code, out, err = invoke("pond", "init", "sales")
    assert code == 0
    assert "kept your README.md, .gitignore (already here)" in out
    assert "wrote README.md" not in out and "wrote pond.toml" in out
    assert (in_tmp / "README.md").read_text() == "my notes\n"
    assert (in_tmp / ".gitignore").read_text() == "*.log\n"
    assert (in_tmp / "data.csv").read_text() == "a,b\n"
    assert listing(in_tmp) == sorted([*SCAFFOLD, "data.csv"])
    # Their .gitignore does not keep puddles/ out of git: said once, as a warning.
    assert err.strip() == (
        "warning: your .gitignore does not ignore puddles/ (local snapshots and output): add it"
    )


def test_init_is_quiet_about_a_gitignore_that_ignores_puddles(
    in_tmp: Path,
) -> None:
    (in_tmp / ".gitignore").write_text("/puddles/\n")
    code, out, err = invoke("pond", "init", "sales")
    assert code == 0 and "kept your .gitignore" in out and err == ""


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
