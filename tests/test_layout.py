"""The root layout hands out paths inside the root only, whatever the names or the links."""

from __future__ import annotations

from pathlib import Path

import pytest

from duckstring.layout import LayoutError, RootLayout


@pytest.fixture
def layout(tmp_path: Path) -> RootLayout:
    (tmp_path / "root" / "ponds").mkdir(parents=True)
    return RootLayout(tmp_path / "root")


def test_paths_of_a_line(layout: RootLayout) -> None:
    root = layout.root
    assert layout.pond("sales") == root / "ponds" / "sales"
    assert layout.version("sales", "1.2.0") == root / "ponds" / "sales" / "1.2.0"
    assert layout.line("sales", 2) == root / "ponds" / "sales" / "m2"
    assert layout.ledger("sales", 2) == root / "ponds" / "sales" / "m2" / "pond.db"
    assert layout.registry("sales", 2) == root / "ponds" / "sales" / "m2" / "registry.duckdb"
    assert layout.duck_lock("sales", 2) == root / "ponds" / "sales" / "m2" / "duck.lock"
    assert layout.table("sales", 2, "daily") == root / "ponds/sales/m2/data/daily.parquet"
    assert layout.relative(layout.ledger("sales", 2)) == "ponds/sales/m2/pond.db"
    assert layout.absolute("ponds/sales/m2") == layout.line("sales", 2)


def test_a_relative_root_is_made_absolute(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    layout = RootLayout("here")
    assert layout.root == tmp_path / "here"
    assert layout.line("sales", 1) == tmp_path / "here" / "ponds" / "sales" / "m1"


@pytest.mark.parametrize("name", ["..", "../x", "a/b", "", "sales/../../etc"])
def test_bad_names_are_refused(layout: RootLayout, name: str) -> None:
    for ask in (layout.pond, lambda n: layout.line(n, 1), lambda n: layout.version(n, "1.0.0")):
        with pytest.raises(LayoutError):
            ask(name)


@pytest.mark.parametrize("major", [-1, True, 1.0, "1"])
def test_bad_majors_are_refused(layout: RootLayout, major: object) -> None:
    with pytest.raises(LayoutError, match="bad major"):
        layout.line("sales", major)  # type: ignore[arg-type]


def test_bad_versions_and_tables_are_refused(layout: RootLayout) -> None:
    with pytest.raises(LayoutError):
        layout.version("sales", "../1.0.0")
    with pytest.raises(LayoutError):
        layout.table("sales", 1, "../../duck")


def test_a_pond_folder_linked_outside_the_root_is_refused(
    layout: RootLayout, tmp_path: Path
) -> None:
    outside = tmp_path / "elsewhere"
    (outside / "m1").mkdir(parents=True)
    (layout.root / "ponds" / "sales").symlink_to(outside)
    for ask in (
        lambda: layout.pond("sales"),
        lambda: layout.line("sales", 1),
        lambda: layout.ledger("sales", 1),
        lambda: layout.table("sales", 1, "daily"),
        lambda: layout.version("sales", "1.0.0"),
    ):
        with pytest.raises(LayoutError, match="outside the Catchment root"):
            ask()


def test_a_line_folder_linked_outside_the_root_is_refused(
    layout: RootLayout, tmp_path: Path
) -> None:
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (layout.root / "ponds" / "sales").mkdir()
    (layout.root / "ponds" / "sales" / "m1").symlink_to(outside)
    assert layout.pond("sales") == layout.root / "ponds" / "sales"
    with pytest.raises(LayoutError, match="outside the Catchment root"):
        layout.ledger("sales", 1)
    with pytest.raises(LayoutError, match="outside the Catchment root"):
        layout.absolute("ponds/sales/m1/pond.db")
    with pytest.raises(LayoutError, match="outside the Catchment root"):
        layout.relative(outside / "pond.db")


def test_links_that_stay_inside_the_root_resolve(layout: RootLayout) -> None:
    (layout.root / "ponds" / "real").mkdir()
    (layout.root / "ponds" / "alias").symlink_to(layout.root / "ponds" / "real")
    assert layout.line("alias", 1) == layout.root / "ponds" / "real" / "m1"


def test_a_root_reached_through_a_link_is_resolved(tmp_path: Path) -> None:
    (tmp_path / "real" / "ponds").mkdir(parents=True)
    (tmp_path / "link").symlink_to(tmp_path / "real")
    layout = RootLayout(tmp_path / "link")
    assert layout.root == tmp_path / "real"
    assert layout.line("sales", 1) == tmp_path / "real" / "ponds" / "sales" / "m1"


def test_the_duck_locks_of_a_root_are_found_by_line(layout: RootLayout) -> None:
    for name, major in (("sales", 1), ("sales", 12), ("reports", 0)):
        layout.duck_lock(name, major).parent.mkdir(parents=True)
        layout.duck_lock(name, major).touch()
    (layout.root / "ponds" / "sales" / "m3").mkdir()  # a line whose Duck never ran
    assert layout.duck_locks() == {
        "reports@0": layout.duck_lock("reports", 0),
        "sales@1": layout.duck_lock("sales", 1),
        "sales@12": layout.duck_lock("sales", 12),
    }
