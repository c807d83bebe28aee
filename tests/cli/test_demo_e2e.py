"""End to end through the real `duckstring` executable: demo, then hydrate and run each Pond."""

import hashlib
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

DEMO_PONDS = ("transactions", "products", "sales", "reports")


def duckstring_command() -> list[str]:
    script = shutil.which("duckstring", path=str(Path(sys.executable).parent))
    if script:
        return [script]
    return [sys.executable, "-c", "from duckstring.cli import main; main()"]


def run_cli(cwd: Path, *args: str, scale: str = "0.01") -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DUCKSTRING_DEMO_SCALE": scale, "COLUMNS": "200"}
    return subprocess.run(
        [*duckstring_command(), *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def ok(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode == 0, f"{done.args} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def table_rows(path: Path) -> list[tuple[object, ...]]:
    return duckdb.sql(f"SELECT * FROM read_parquet('{path}') ORDER BY ALL").fetchall()


def ensure_ran(project: Path) -> None:
    """Hydrate and run a demo Pond unless an earlier test already did (keeps the suite fast)."""
    if not (project / "puddles" / "out").is_dir():
        ok(run_cli(project, "pond", "hydrate"))
        ok(run_cli(project, "pond", "run"))


def output_digest(project: Path) -> dict[str, str]:
    out = project / "puddles" / "out"
    return {
        path.name: hashlib.sha256(repr(table_rows(path)).encode()).hexdigest()
        for path in sorted(out.glob("*.parquet"))
    }


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("demo")
    ok(run_cli(folder, "pond", "demo"))
    return folder


def test_pond_demo_writes_the_four_projects(demo: Path) -> None:
    assert sorted(p.name for p in demo.iterdir()) == sorted(DEMO_PONDS)
    for name in DEMO_PONDS:
        project = demo / name
        for part in ("pond.toml", "src/pond.py", "src/puddles.py", "README.md", ".gitignore"):
            assert (project / part).is_file(), f"{name} lacks {part}"
        assert "puddles/" in (project / ".gitignore").read_text()


@pytest.mark.parametrize("name", DEMO_PONDS)
def test_each_demo_pond_hydrates_and_runs_out_of_the_box(demo: Path, name: str) -> None:
    project = demo / name
    ok(run_cli(project, "pond", "hydrate"))
    out = ok(run_cli(project, "pond", "run"))
    assert "✓" in out
    produced = sorted(p.name for p in (project / "puddles" / "out").glob("*.parquet"))
    expected = {
        "transactions": ["transactions.parquet"],
        "products": ["products.parquet"],
        "sales": ["daily_sales.parquet", "price_tiers.parquet", "sale_line.parquet"],
        "reports": ["monthly_summary.parquet"],
    }[name]
    assert produced == expected
    for file in produced:
        assert table_rows(project / "puddles" / "out" / file), f"{name}/{file} is empty"


def test_the_demo_data_makes_sense(demo: Path) -> None:
    out = {name: demo / name / "puddles" / "out" for name in DEMO_PONDS}
    for name in DEMO_PONDS:
        ensure_ran(demo / name)
    # transactions appended exactly one day (120 sales) after its two months of seeded history
    [(count, days, last_day)] = duckdb.sql(
        f"SELECT count(*), count(DISTINCT CAST(sold_at AS DATE)), max(CAST(sold_at AS DATE)) "
        f"FROM '{out['transactions'] / 'transactions.parquet'}'"
    ).fetchall()
    assert (count, days, str(last_day)) == (60 * 120, 60, "2024-02-29")
    # sale lines are priced: amount = units * unit_price, every line has a tier
    [(bad_amounts, tiers)] = duckdb.sql(
        f"SELECT count(*) FILTER (WHERE amount <> units * unit_price), "
        f"list(DISTINCT tier ORDER BY tier) FROM '{out['sales'] / 'sale_line.parquet'}'"
    ).fetchall()
    assert bad_amounts == 0 and tiers == ["budget", "premium", "standard"]
    # reports summarises per month
    months = duckdb.sql(
        f"SELECT DISTINCT month FROM '{out['reports'] / 'monthly_summary.parquet'}' ORDER BY 1"
    ).fetchall()
    assert [str(m) for (m,) in months] == ["2024-01-01", "2024-02-01", "2024-03-01"]


def test_two_runs_of_the_appending_inlet_give_identical_output(demo: Path) -> None:
    project = demo / "transactions"
    ensure_ran(project)
    first = output_digest(project)
    ok(run_cli(project, "pond", "run"))
    assert output_digest(project) == first


def test_demo_durations_follow_the_scale(demo: Path) -> None:
    project = demo / "sales"
    ensure_ran(project)
    started = time.monotonic()
    ok(run_cli(project, "pond", "run", scale="0.2"))
    elapsed = time.monotonic() - started
    # Critical path daily_sales (2 s) then join_lines (3 s): 5 s x 0.2 = 1 s at least.
    assert elapsed >= 1.0


def test_puddle_commands_through_the_real_executable(demo: Path) -> None:
    project = demo / "sales"
    ensure_ran(project)
    listing = ok(run_cli(project, "puddle", "ls"))
    for address in ("transactions.transactions", "products.products", "sales.sale_line"):
        assert address in listing
    shown = ok(run_cli(project, "puddle", "show", "sales.sale_line", "-n", "2"))
    assert "2 of" in shown and "amount" in shown
    answer = ok(
        run_cli(
            project,
            "puddle",
            "query",
            'SELECT tier, count(*) AS lines FROM "sales"."sale_line" GROUP BY tier ORDER BY tier',
        )
    )
    assert "budget" in answer and "premium" in answer
    failed = run_cli(project, "puddle", "show", "sales.nope")
    assert failed.returncode == 1 and "Traceback" not in failed.stderr
