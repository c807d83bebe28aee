import importlib.machinery
import json
import os
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from duckstring import ripple
from duckstring.pond.isolation import ModuleImportError, _added_after, import_isolated
from duckstring.pond.ripples import RippleError, spec_of
from duckstring.pond.topology import discover_ripples, discover_topology, validate_topology


def write_module(folder: Path, source: str, name: str = "pond.py") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(textwrap.dedent(source))
    return path


def test_decorator_returns_the_function_unchanged() -> None:
    def ingest(pond: object) -> str:
        return "ran"

    assert ripple(ingest) is ingest
    assert ripple(name="other")(ingest) is ingest
    assert ingest(None) == "ran"


def test_topology_is_in_stable_dependency_order(tmp_path: Path) -> None:
    path = write_module(
        tmp_path / "src",
        """
        from duckstring import ripple

        @ripple
        def daily_sales(pond): pass

        @ripple
        def price_tiers(pond): pass

        @ripple(parents=[daily_sales, price_tiers], name="join_lines")
        def join(pond): pass

        @ripple(parents=[join])
        def audit(pond): pass
        """,
    )
    topology = discover_ripples(path)
    assert topology.names == ("daily_sales", "price_tiers", "join_lines", "audit")
    assert discover_topology(path) == [
        {"name": "daily_sales", "parents": []},
        {"name": "price_tiers", "parents": []},
        {"name": "join_lines", "parents": ["daily_sales", "price_tiers"]},
        {"name": "audit", "parents": ["join_lines"]},
    ]
    assert topology.with_ancestors("join_lines").names == (
        "daily_sales",
        "price_tiers",
        "join_lines",
    )
    assert topology.with_ancestors("price_tiers").names == ("price_tiers",)


def test_two_ponds_with_the_same_module_names_never_collide(tmp_path: Path) -> None:
    for pond, table in (("a", "alpha"), ("b", "beta")):
        write_module(tmp_path / pond / "src", f"TABLE = {table!r}\n", name="helpers.py")
        write_module(
            tmp_path / pond / "src",
            """
            from duckstring import ripple
            import helpers

            @ripple
            def build(pond):
                return helpers.TABLE
            """,
        )
    first = discover_ripples(tmp_path / "a" / "src" / "pond.py")
    second = discover_ripples(tmp_path / "b" / "src" / "pond.py")
    assert first.get("build").function(None) == "alpha"
    assert second.get("build").function(None) == "beta"
    assert first.get("build").function.__module__ != second.get("build").function.__module__
    assert "helpers" not in sys.modules
    assert str(tmp_path / "a" / "src") not in sys.path


def test_the_modules_an_import_added_are_found_from_the_end_of_the_table() -> None:
    last = next(reversed(sys.modules))
    assert _added_after(last) == set()
    sys.modules["_duckstring_test_added"] = sys.modules[__name__]
    try:
        assert _added_after(last) == {"_duckstring_test_added"}
        # When the marker is gone, every name comes back (callers filter by folder).
        assert _added_after("_duckstring_no_such_module") == set(sys.modules)
    finally:
        del sys.modules["_duckstring_test_added"]


def test_rediscovery_sees_edited_helper_modules(tmp_path: Path) -> None:
    helper = write_module(tmp_path / "src", "VALUE = 1\n", name="helpers.py")
    path = write_module(
        tmp_path / "src",
        """
        from duckstring import ripple
        from helpers import VALUE

        @ripple
        def build(pond):
            return VALUE
        """,
    )
    assert discover_ripples(path).get("build").function(None) == 1
    helper.write_text("VALUE = 22\n")
    assert discover_ripples(path).get("build").function(None) == 22


def test_discovery_json_entry_point_runs_in_a_separate_process(tmp_path: Path) -> None:
    path = write_module(
        tmp_path / "src",
        """
        from duckstring import ripple

        @ripple
        def first(pond): pass

        @ripple(parents=[first])
        def second(pond): pass
        """,
    )
    done = subprocess.run(
        [sys.executable, "-m", "duckstring.pond.topology", str(path)],
        capture_output=True,
        text=True,
        check=True,
    )
    data = json.loads(done.stdout)
    assert validate_topology(data) == [
        {"name": "first", "parents": []},
        {"name": "second", "parents": ["first"]},
    ]


MISUSES = {
    "two_parameters": (
        """
        @ripple
        def build(pond, extra): pass
        """,
        "exactly one positional argument",
    ),
    "no_parameters": (
        """
        @ripple
        def build(): pass
        """,
        "exactly one positional argument",
    ),
    "keyword_only": (
        """
        @ripple
        def build(*, pond): pass
        """,
        "exactly one positional argument",
    ),
    "variadic": (
        """
        @ripple
        def build(*args): pass
        """,
        "exactly one positional argument",
    ),
    "async": (
        """
        @ripple
        async def build(pond): pass
        """,
        "async",
    ),
    "generator": (
        """
        @ripple
        def build(pond):
            yield 1
        """,
        "generator",
    ),
    "duplicate_name": (
        """
        @ripple
        def build(pond): pass

        @ripple(name="build")
        def other(pond): pass
        """,
        "duplicate Ripple name 'build'",
    ),
    "same_function_name_twice": (
        """
        @ripple
        def build(pond): pass

        @ripple
        def build(pond): pass
        """,
        "duplicate Ripple name 'build'",
    ),
    "parent_not_a_ripple": (
        """
        def helper(pond): pass

        @ripple(parents=[helper])
        def build(pond): pass
        """,
        "parent 'helper' of Ripple 'build' is not a @ripple function",
    ),
    "parent_by_string": (
        """
        @ripple
        def first(pond): pass

        @ripple(parents=["first"])
        def build(pond): pass
        """,
        "is not a @ripple function",
    ),
    "parents_not_a_list": (
        """
        @ripple
        def first(pond): pass

        @ripple(parents=first)
        def build(pond): pass
        """,
        "takes a list of @ripple functions",
    ),
    "parent_from_another_module": (
        """
        from other import upstream

        @ripple(parents=[upstream])
        def build(pond): pass
        """,
        "defined in",
    ),
    "ripple_in_a_helper_module": (
        """
        import other

        @ripple
        def build(pond): pass
        """,
        "is defined outside",
    ),
    "bad_name": (
        """
        @ripple(name="no spaces")
        def build(pond): pass
        """,
        "Ripple name 'no spaces' is not allowed",
    ),
    "positional_name": (
        """
        @ripple("build")
        def build(pond): pass
        """,
        "@ripple got 'build'",
    ),
    "no_ripples": (
        """
        def build(pond): pass
        """,
        "defines no @ripple functions",
    ),
}


@pytest.mark.parametrize("case", sorted(MISUSES))
def test_every_decorator_misuse_is_a_clear_error_naming_the_file(tmp_path: Path, case: str) -> None:
    source, message = MISUSES[case]
    write_module(
        tmp_path / "src",
        """
        from duckstring import ripple

        @ripple
        def upstream(pond): pass
        """,
        name="other.py",
    )
    path = write_module(
        tmp_path / "src", "from duckstring import ripple\n" + textwrap.dedent(source)
    )
    with pytest.raises(RippleError) as caught:
        discover_ripples(path)
    assert message in str(caught.value)
    assert "src/" in str(caught.value)


def test_a_cycle_in_plain_topology_is_named() -> None:
    data = [
        {"name": "a", "parents": ["c"]},
        {"name": "b", "parents": ["a"]},
        {"name": "c", "parents": ["b"]},
        {"name": "d", "parents": []},
    ]
    with pytest.raises(RippleError, match="cycle") as caught:
        validate_topology(data, "sales")
    assert "a -> b -> c -> a" in str(caught.value) or "c -> a -> b -> c" in str(caught.value)


def test_plain_topology_rejects_unknown_parents_and_duplicates() -> None:
    with pytest.raises(RippleError, match="names parent 'x'"):
        validate_topology([{"name": "a", "parents": ["x"]}])
    with pytest.raises(RippleError, match="duplicate"):
        validate_topology([{"name": "a", "parents": []}, {"name": "a", "parents": []}])
    with pytest.raises(RippleError, match="list of"):
        validate_topology({"name": "a"})


def test_a_module_that_raises_on_import_reports_its_own_traceback(tmp_path: Path) -> None:
    path = write_module(
        tmp_path / "src",
        """
        from duckstring import ripple

        def setup():
            return 1 / 0

        VALUE = setup()
        """,
    )
    with pytest.raises(ModuleImportError) as caught:
        discover_ripples(path)
    assert "ZeroDivisionError" in str(caught.value)
    assert str(path) in caught.value.traceback_text
    assert "importlib" not in caught.value.traceback_text


def test_spec_records_where_the_ripple_lives() -> None:
    @ripple(name="named")
    def build(pond: object) -> None:
        pass

    spec = spec_of(build)
    assert spec is not None and spec.name == "named"
    assert spec.file == __file__


def test_imports_on_other_threads_are_undisturbed_by_an_isolated_import(tmp_path: Path) -> None:
    """A Duck imports a Pond's module while its other threads may import too (a codec on a
    first connection, a Ripple's lazy import): sys.path must never change under them."""
    path = write_module(tmp_path / "src", "X = 1\n")
    stop = threading.Event()
    lookups: list[bool] = []

    def look_up() -> None:
        while not stop.is_set():  # walks sys.path as every top-level import does
            lookups.append(importlib.machinery.PathFinder.find_spec("unicodedata") is not None)

    thread = threading.Thread(target=look_up)
    thread.start()
    try:
        deadline = time.monotonic() + 2.0
        while time.monotonic() < deadline and len(lookups) < 2000:
            import_isolated(path)
    finally:
        stop.set()
        thread.join()
    assert lookups and all(lookups), f"{lookups.count(False)} of {len(lookups)} lookups failed"


def test_an_isolated_import_writes_no_bytecode_beside_the_module(tmp_path: Path) -> None:
    """A deployed version's folder stays as uploaded, even where Python writes bytecode: a
    fresh interpreter without PYTHONDONTWRITEBYTECODE imports a module and its helper."""
    write_module(tmp_path / "src", "def twice(n):\n    return 2 * n\n", name="helpers.py")
    path = write_module(
        tmp_path / "src",
        """
        from duckstring import ripple
        from helpers import twice

        @ripple
        def a(pond):
            return twice(1)
        """,
    )
    (tmp_path / "plain.py").write_text("X = 1\n")
    script = textwrap.dedent(
        f"""
        import sys
        from duckstring.pond.topology import discover_ripples
        assert not sys.dont_write_bytecode
        discover_ripples({str(path)!r})
        assert not sys.dont_write_bytecode, "the setting is given back"
        sys.path.insert(0, {str(tmp_path)!r})
        import plain  # an ordinary import still writes its bytecode
        """
    )
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    done = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in (tmp_path / "src").iterdir()) == ["helpers.py", "pond.py"]
    assert (tmp_path / "__pycache__").is_dir()
