import textwrap
from collections.abc import Callable
from pathlib import Path

import duckdb
import pytest

from duckstring import puddle
from duckstring.local.hydrate import PuddleFailedError, hydrate
from duckstring.pond.puddle import CatchmentUnavailableError, PuddleError, discover_puddles

ProjectFactory = Callable[..., Path]

MANIFEST = """
[pond]
name = "sales"
version = "1.0.0"

[sources]
transactions = "1.0.0"
products = "2.1.0?"
"""

RIPPLES = """
from duckstring import ripple

@ripple
def build(pond):
    pass
"""


def rows(path: Path) -> list[tuple[object, ...]]:
    return duckdb.sql(f"SELECT * FROM read_parquet('{path}') ORDER BY ALL").fetchall()


def data_dir(project: Path, source: str) -> Path:
    return project / "puddles" / "ponds" / source / "data"


def test_puddles_materialise_per_source_and_table(make_project: ProjectFactory) -> None:
    project = make_project(
        MANIFEST,
        RIPPLES,
        """
        from duckstring import puddle

        @puddle("transactions")
        def everything(p):
            p.write_table("lines", p.con.sql("SELECT range AS id FROM range(3)"))
            p.write_table("stores", p.con.sql("SELECT 'north' AS store"))

        @puddle("transactions.stores")
        def stores(p):
            # Table puddles run after whole-Source ones, so this one refines it.
            return p.con.sql("SELECT 'south' AS store")

        @puddle("products.items")
        def items(p):
            assert (p.target, p.source, p.table) == ("products.items", "products", "items")
            return p.con.sql("SELECT 1 AS item_id, 'pen' AS name")

        @puddle("sales")
        def prior_state(p):
            p.write_table("history", p.con.sql("SELECT 42 AS answer"))
        """,
    )
    hydrated = hydrate(project)
    assert sorted((h.source, h.table, h.rows) for h in hydrated) == [
        ("products", "items", 1),
        ("sales", "history", 1),
        ("transactions", "lines", 3),
        ("transactions", "stores", 1),
    ]
    assert rows(data_dir(project, "transactions") / "stores.parquet") == [("south",)]
    assert rows(data_dir(project, "sales") / "history.parquet") == [(42,)]
    assert sorted(p.name for p in (project / "puddles" / "ponds").iterdir()) == [
        "products",
        "sales",
        "transactions",
    ]


def test_only_the_named_sources_are_hydrated_and_undefined_ones_warned(
    make_project: ProjectFactory,
) -> None:
    project = make_project(
        MANIFEST,
        RIPPLES,
        """
        from duckstring import puddle

        @puddle("transactions.lines")
        def lines(p):
            return p.con.sql("SELECT 1 AS id")

        @puddle("weather.daily")
        def weather(p):
            return p.con.sql("SELECT 1 AS id")
        """,
    )
    warnings: list[str] = []
    hydrated = hydrate(project, ["transactions", "products"], warn=warnings.append)
    assert [(h.source, h.table) for h in hydrated] == [("transactions", "lines")]
    assert any("'weather'" in w and "neither a Source" in w for w in warnings)
    assert any("no puddle defines Source 'products'; skipped" in w for w in warnings)
    assert not data_dir(project, "products").exists()
    assert not data_dir(project, "weather").exists()


def test_write_path_takes_parquet_csv_and_globs(make_project: ProjectFactory) -> None:
    project = make_project(
        MANIFEST,
        RIPPLES,
        """
        from duckstring import puddle

        @puddle("transactions.lines")
        def lines(p):
            return "fixtures/lines_*.csv"

        @puddle("products")
        def products(p):
            p.write_path("fixtures/products/*.parquet")
        """,
    )
    fixtures = project / "fixtures"
    (fixtures / "products").mkdir(parents=True)
    (fixtures / "lines_1.csv").write_text("id,amount\n1,2.5\n2,3.0\n")
    (fixtures / "lines_2.csv").write_text("id,amount\n3,4.0\n")
    duckdb.sql("SELECT 1 AS item_id").write_parquet(str(fixtures / "products" / "items.parquet"))
    duckdb.sql("SELECT 'pens' AS name").write_parquet(str(fixtures / "products" / "kinds.parquet"))
    hydrate(project)
    assert rows(data_dir(project, "transactions") / "lines.parquet") == [
        (1, 2.5),
        (2, 3.0),
        (3, 4.0),
    ]
    assert rows(data_dir(project, "products") / "items.parquet") == [(1,)]
    assert rows(data_dir(project, "products") / "kinds.parquet") == [("pens",)]


def test_a_failing_puddle_keeps_the_previous_snapshot(make_project: ProjectFactory) -> None:
    puddles = """
        from duckstring import puddle

        @puddle("transactions.lines")
        def lines(p):
            if {broken}:
                raise ValueError("broken fixture")
            return p.con.sql("SELECT 1 AS id")
        """
    project = make_project(MANIFEST, RIPPLES, puddles.format(broken=False))
    hydrate(project)
    (project / "src" / "puddles.py").write_text(textwrap.dedent(puddles.format(broken=True)))
    with pytest.raises(PuddleFailedError, match="broken fixture") as caught:
        hydrate(project)
    assert caught.value.traceback_text.startswith("Traceback")
    assert 'puddles.py", line 7, in lines' in caught.value.traceback_text
    assert "hydrate.py" not in caught.value.traceback_text
    assert rows(data_dir(project, "transactions") / "lines.parquet") == [(1,)]
    assert sorted(p.name for p in (project / "puddles" / "ponds" / "transactions").iterdir()) == [
        "data"
    ]


def test_catchment_access_says_clearly_that_there_is_none(make_project: ProjectFactory) -> None:
    project = make_project(
        MANIFEST,
        RIPPLES,
        """
        from duckstring import puddle

        @puddle("transactions.lines")
        def lines(p):
            return p.catchment().get("lines")
        """,
    )
    with pytest.raises(PuddleFailedError) as caught:
        hydrate(project, catchment="prod")
    assert isinstance(caught.value.error, CatchmentUnavailableError)
    assert "no Catchment named 'prod' is registered" in str(caught.value.error)


HANDLE_MISUSES = {
    "whole_source_returns_unnamed_relation": (
        '@puddle("transactions")\ndef f(p):\n    return p.con.sql("SELECT 1 AS id")\n',
        "name each table",
    ),
    "table_puddle_writes_another_table": (
        '@puddle("transactions.lines")\ndef f(p):\n'
        '    p.write_table("other", p.con.sql("SELECT 1 AS id"))\n',
        "writes table 'lines' only",
    ),
    "glob_matches_nothing": (
        '@puddle("transactions.lines")\ndef f(p):\n    return "missing/*.parquet"\n',
        "no files match missing/*.parquet",
    ),
    "returns_something_unscannable": (
        '@puddle("transactions.lines")\ndef f(p):\n    return 42\n',
        "cannot scan a int",
    ),
}


@pytest.mark.parametrize("case", sorted(HANDLE_MISUSES))
def test_puddle_handle_misuse_fails_with_a_clear_message(
    make_project: ProjectFactory, case: str
) -> None:
    source, message = HANDLE_MISUSES[case]
    project = make_project(MANIFEST, RIPPLES, "from duckstring import puddle\n" + source)
    with pytest.raises(PuddleFailedError, match=message.replace("*", r"\*")):
        hydrate(project)


DECORATOR_MISUSES = {
    "bad_source_name": ('@puddle("Sales")\ndef f(p): pass\n', "Pond name 'Sales'"),
    "bad_table_name": ('@puddle("sales.no-dash")\ndef f(p): pass\n', "table name 'no-dash'"),
    "empty_table": ('@puddle("sales.")\ndef f(p): pass\n', "must not be empty"),
    "not_text": ("@puddle(3)\ndef f(p): pass\n", "takes the target as text"),
    "two_arguments": ('@puddle("sales")\ndef f(p, q): pass\n', "exactly one positional"),
    "duplicate": (
        '@puddle("sales.t")\ndef f(p): pass\n@puddle("sales.t")\ndef g(p): pass\n',
        "two puddles for 'sales.t'",
    ),
}


@pytest.mark.parametrize("case", sorted(DECORATOR_MISUSES))
def test_puddle_decorator_misuse_is_a_clear_error(tmp_path: Path, case: str) -> None:
    source, message = DECORATOR_MISUSES[case]
    module = tmp_path / "puddles.py"
    module.write_text("from duckstring import puddle\n" + source)
    with pytest.raises(PuddleError, match=message):
        discover_puddles(module)


def test_puddle_returns_the_function_unchanged() -> None:
    def f(p: object) -> int:
        return 1

    assert puddle("sales.lines")(f) is f


def test_files_a_puddle_copies_into_its_path_count_as_tables(make_project: ProjectFactory) -> None:
    project = make_project(
        MANIFEST,
        RIPPLES,
        """
        import shutil
        from duckstring import puddle

        @puddle("transactions")
        def copied(p):
            shutil.copy(p.project / "fixtures" / "lines.parquet", p.path / "lines.parquet")

        @puddle("products")
        def garbage(p):
            (p.path / "items.parquet").write_text("not parquet")
        """,
    )
    (project / "fixtures").mkdir()
    duckdb.sql("SELECT range AS id FROM range(4)").write_parquet(
        str(project / "fixtures" / "lines.parquet")
    )
    warnings: list[str] = []
    hydrated = hydrate(project, ["transactions"], warn=warnings.append)
    assert [(h.table, h.rows) for h in hydrated] == [("lines", 4)]
    assert warnings == []
    with pytest.raises(
        PuddleError, match=r"left items\.parquet in p\.path, which is not a readable Parquet"
    ):
        hydrate(project, ["products"])
    assert not data_dir(project, "products").exists()
