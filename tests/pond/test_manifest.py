from pathlib import Path

import pytest

from duckstring.pond.manifest import (
    ManifestError,
    Source,
    find_project,
    load_manifest,
    parse_manifest,
)
from duckstring.pond.semver import SemVer


def test_full_manifest_parses_into_one_typed_object() -> None:
    manifest = parse_manifest(
        """
        [pond]
        name = "sales"
        version = "2.3.1"
        type = "pond"
        immediate_retries = 2
        source_retries = 1
        ripples = "lib/ripples.py"
        puddles = "lib/fixtures.py"

        [sources]
        transactions = "1.4.0"
        products = "3.0.0?"
        """
    )
    assert manifest.name == "sales"
    assert manifest.version == SemVer.parse("2.3.1")
    assert manifest.major == 2
    assert (manifest.immediate_retries, manifest.source_retries) == (2, 1)
    assert (manifest.ripples, manifest.puddles) == ("lib/ripples.py", "lib/fixtures.py")
    assert manifest.sources == (
        Source("transactions", 1, SemVer.parse("1.4.0"), optional=False),
        Source("products", 3, SemVer.parse("3.0.0"), optional=True),
    )
    assert manifest.source("products") is not None and manifest.source("nope") is None


def test_minimal_manifest_takes_the_documented_defaults() -> None:
    manifest = parse_manifest(b'[pond]\nname = "transactions"\nversion = "0.1.0"\n')
    assert manifest.type == "pond"
    assert (manifest.immediate_retries, manifest.source_retries) == (0, 0)
    assert (manifest.ripples, manifest.puddles) == ("src/pond.py", "src/puddles.py")
    assert manifest.sources == ()


def test_manifest_is_frozen() -> None:
    manifest = parse_manifest('[pond]\nname = "a"\nversion = "1.0.0"\n')
    with pytest.raises(AttributeError):
        manifest.name = "b"  # type: ignore[misc]


BAD_MANIFESTS = {
    "bad_toml": ('[pond]\nname = "a"\nversion = 1.0.0\n', None, "invalid TOML"),
    "not_utf8": (b'[pond]\nname = "\xff"\n', None, "UTF-8"),
    "no_pond_table": ('[sources]\nb = "1.0.0"\n', "[pond]", "missing"),
    "missing_name": ('[pond]\nversion = "1.0.0"\n', "[pond] name", "missing"),
    "uppercase_name": ('[pond]\nname = "Sales"\nversion = "1.0.0"\n', "[pond] name", "lowercase"),
    "name_with_slash": ('[pond]\nname = "a/b"\nversion = "1.0.0"\n', "[pond] name", "not allowed"),
    "name_with_dot": ('[pond]\nname = "a.b"\nversion = "1.0.0"\n', "[pond] name", "not allowed"),
    "name_starts_with_digit": ('[pond]\nname = "1a"\nversion = "1.0.0"\n', "[pond] name", "letter"),
    "name_too_long": (f'[pond]\nname = "{"a" * 65}"\nversion = "1.0.0"\n', "[pond] name", "64"),
    "name_not_text": ('[pond]\nname = 3\nversion = "1.0.0"\n', "[pond] name", "text"),
    "missing_version": ('[pond]\nname = "a"\n', "[pond] version", "missing"),
    "bad_semver": ('[pond]\nname = "a"\nversion = "1.0"\n', "[pond] version", "SemVer"),
    "version_not_text": ('[pond]\nname = "a"\nversion = 1\n', "[pond] version", "quoted"),
    "unknown_type": (
        '[pond]\nname = "a"\nversion = "1.0.0"\ntype = "lake"\n',
        "[pond] type",
        "unknown type 'lake'",
    ),
    "unknown_pond_key": (
        '[pond]\nname = "a"\nversion = "1.0.0"\ntrigger = "wave"\n',
        "[pond] trigger",
        "unknown key",
    ),
    "unknown_table": (
        '[pond]\nname = "a"\nversion = "1.0.0"\n[windows]\nx = 1\n',
        "[windows]",
        "unknown key",
    ),
    "negative_retries": (
        '[pond]\nname = "a"\nversion = "1.0.0"\nimmediate_retries = -1\n',
        "[pond] immediate_retries",
        "negative",
    ),
    "boolean_retries": (
        '[pond]\nname = "a"\nversion = "1.0.0"\nsource_retries = true\n',
        "[pond] source_retries",
        "whole number",
    ),
    "module_escapes_project": (
        '[pond]\nname = "a"\nversion = "1.0.0"\nripples = "../other/pond.py"\n',
        "[pond] ripples",
        "escapes",
    ),
    "module_absolute": (
        '[pond]\nname = "a"\nversion = "1.0.0"\npuddles = "/etc/puddles.py"\n',
        "[pond] puddles",
        "escapes",
    ),
    "module_not_python": (
        '[pond]\nname = "a"\nversion = "1.0.0"\nripples = "src/pond.txt"\n',
        "[pond] ripples",
        ".py",
    ),
    "source_names_itself": (
        '[pond]\nname = "a"\nversion = "1.0.0"\n[sources]\na = "1.0.0"\n',
        "[sources] a",
        "its own Source",
    ),
    "source_bad_semver": (
        '[pond]\nname = "a"\nversion = "1.0.0"\n[sources]\nb = "^1"\n',
        "[sources] b",
        "SemVer",
    ),
    "source_not_text": (
        '[pond]\nname = "a"\nversion = "1.0.0"\n[sources]\nb = 1\n',
        "[sources] b",
        "quoted",
    ),
    "source_bad_name": (
        '[pond]\nname = "a"\nversion = "1.0.0"\n[sources]\n"B!" = "1.0.0"\n',
        "[sources] B!",
        "not allowed",
    ),
    "inlet_with_sources": (
        '[pond]\nname = "a"\nversion = "1.0.0"\ntype = "inlet"\n[sources]\nb = "1.0.0?"\n',
        "[sources]",
        "an inlet reads no Sources",
    ),
    "sources_not_a_table": (
        'sources = "b"\n[pond]\nname = "a"\nversion = "1.0.0"\n',
        "[sources]",
        "must be a table",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_MANIFESTS))
def test_every_bad_manifest_names_the_file_the_key_and_the_problem(case: str) -> None:
    content, key, problem = BAD_MANIFESTS[case]
    with pytest.raises(ManifestError) as caught:
        parse_manifest(content, "sales/pond.toml")
    error = caught.value
    assert error.file == "sales/pond.toml"
    assert error.key == key
    message = str(error)
    assert message.startswith("sales/pond.toml")
    if key:
        assert key in message
    assert problem in message


def test_outlet_may_have_sources() -> None:
    manifest = parse_manifest(
        '[pond]\nname = "reports"\nversion = "1.0.0"\ntype = "outlet"\n[sources]\nsales = "1.0.0"\n'
    )
    assert manifest.type == "outlet" and manifest.source_names == ("sales",)


def test_load_manifest_from_a_folder_and_a_missing_one(tmp_path: Path) -> None:
    (tmp_path / "pond.toml").write_text('[pond]\nname = "a"\nversion = "1.0.0"\n')
    assert load_manifest(tmp_path).name == "a"
    with pytest.raises(ManifestError, match="no such file"):
        load_manifest(tmp_path / "elsewhere")


def test_find_project_walks_up_to_the_nearest_manifest(tmp_path: Path) -> None:
    (tmp_path / "pond.toml").write_text('[pond]\nname = "a"\nversion = "1.0.0"\n')
    nested = tmp_path / "src" / "deep"
    nested.mkdir(parents=True)
    assert find_project(nested) == tmp_path.resolve()
    with pytest.raises(ManifestError, match=r"no pond\.toml"):
        find_project(tmp_path.parent)
