"""``pond.toml``: parse and validate a Pond's manifest into one typed, frozen :class:`Manifest`.

The manifest says who a Pond is (name, SemVer version, type), where its code lives, the seeds of
its retry budgets, and which Sources it reads. Anything malformed is a :class:`ManifestError`
naming the file, the key and what is wrong; nothing else runs on a bad manifest. Parsing works
from text or bytes too, so a server can validate an upload before writing it anywhere.
"""

from __future__ import annotations

import functools
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, Final

from duckstring.pond.names import pond_name_problem
from duckstring.pond.semver import SemVer, SemVerError

MANIFEST_FILE: Final = "pond.toml"
POND_TYPES: Final = ("inlet", "pond", "outlet")
DEFAULT_RIPPLES: Final = "src/pond.py"
DEFAULT_PUDDLES: Final = "src/puddles.py"

_POND_KEYS: Final = (
    "name",
    "version",
    "type",
    "immediate_retries",
    "source_retries",
    "ripples",
    "puddles",
)


class ManifestError(ValueError):
    """A malformed manifest. ``str()`` names the file, the key (when there is one) and why."""

    def __init__(self, file: str, key: str | None, problem: str) -> None:
        self.file = file
        self.key = key
        self.problem = problem
        where = f"{file}: {key}" if key else file
        super().__init__(f"{where}: {problem}")


_Fail = Callable[[str | None, str], ManifestError]


@dataclass(frozen=True)
class Source:
    """One ``[sources]`` entry: read major ``major`` of ``name``, built against ``minimum``."""

    name: str
    major: int
    minimum: SemVer
    optional: bool = False

    def __str__(self) -> str:
        return f"{self.name} {self.minimum}{'?' if self.optional else ''}"


@dataclass(frozen=True)
class Manifest:
    """A validated ``pond.toml``."""

    name: str
    version: SemVer
    type: str = "pond"
    immediate_retries: int = 0
    source_retries: int = 0
    ripples: str = DEFAULT_RIPPLES
    puddles: str = DEFAULT_PUDDLES
    sources: tuple[Source, ...] = ()

    @property
    def major(self) -> int:
        """The major line this version belongs to."""
        return self.version.major

    @property
    def source_names(self) -> tuple[str, ...]:
        return tuple(source.name for source in self.sources)

    def source(self, name: str) -> Source | None:
        """The Source called ``name``, or ``None`` if this Pond does not read it."""
        for source in self.sources:
            if source.name == name:
                return source
        return None


def parse_manifest(content: str | bytes, file: str = MANIFEST_FILE) -> Manifest:
    """Parse manifest text (or UTF-8 bytes, e.g. from an uploaded archive).

    ``file`` is only used to name the manifest in error messages.
    """
    if isinstance(content, bytes):
        try:
            content = content.decode("utf-8")
        except UnicodeDecodeError as error:
            raise ManifestError(file, None, f"not UTF-8 text ({error.reason})") from None
    try:
        document = tomllib.loads(content)
    except tomllib.TOMLDecodeError as error:
        raise ManifestError(file, None, f"invalid TOML: {error}") from None
    return _validate(document, file)


def load_manifest(path: Path | str) -> Manifest:
    """Read and validate ``pond.toml`` (``path`` is the file or the project folder)."""
    path = Path(path)
    if path.is_dir():
        path = path / MANIFEST_FILE
    try:
        content = path.read_bytes()
    except FileNotFoundError:
        raise ManifestError(str(path), None, "no such file; is this a Pond project?") from None
    except OSError as error:
        raise ManifestError(str(path), None, f"cannot read it: {error.strerror}") from None
    return parse_manifest(content, str(path))


def find_project(start: Path | str) -> Path:
    """The nearest folder at or above ``start`` that holds a ``pond.toml``."""
    start = Path(start).resolve()
    for folder in (start, *start.parents):
        if (folder / MANIFEST_FILE).is_file():
            return folder
    raise ManifestError(
        str(start / MANIFEST_FILE),
        None,
        "no pond.toml here or in any parent folder; run this inside a Pond project "
        "(`duckstring pond init NAME` creates one)",
    )


def _validate(document: dict[str, Any], file: str) -> Manifest:
    def fail(key: str | None, problem: str) -> ManifestError:
        return ManifestError(file, key, problem)

    for table in document:
        if table not in ("pond", "sources"):
            raise fail(
                f"[{table}]",
                "unknown key; pond.toml holds [pond] and [sources] only (triggers, windows "
                "and live budgets belong to the Catchment)",
            )
    pond = document.get("pond")
    if pond is None:
        raise fail("[pond]", "missing; a manifest needs a [pond] table with name and version")
    if not isinstance(pond, dict):
        raise fail("[pond]", "must be a table")
    for key in pond:
        if key not in _POND_KEYS:
            raise fail(f"[pond] {key}", f"unknown key; allowed keys are {', '.join(_POND_KEYS)}")

    if "name" not in pond:
        raise fail("[pond] name", "missing; every Pond needs a name")
    name = pond["name"]
    problem = pond_name_problem(name)
    if problem is not None:
        raise fail("[pond] name", problem)

    if "version" not in pond:
        raise fail("[pond] version", "missing; every Pond needs a SemVer version like 1.0.0")
    version = _semver(pond["version"], lambda p: fail("[pond] version", p))

    kind = pond.get("type", "pond")
    if kind not in POND_TYPES:
        raise fail("[pond] type", f"unknown type {kind!r}; use one of {', '.join(POND_TYPES)}")

    retries = {key: _retries(pond, key, fail) for key in ("immediate_retries", "source_retries")}
    modules = {
        key: _module_path(pond, key, default, fail)
        for key, default in (("ripples", DEFAULT_RIPPLES), ("puddles", DEFAULT_PUDDLES))
    }
    sources = _sources(document.get("sources", {}), name, fail)
    if kind == "inlet" and sources:
        raise fail(
            "[sources]",
            "an inlet reads no Sources; remove [sources] or set type to 'pond' or 'outlet'",
        )
    return Manifest(
        name=name,
        version=version,
        type=kind,
        immediate_retries=retries["immediate_retries"],
        source_retries=retries["source_retries"],
        ripples=modules["ripples"],
        puddles=modules["puddles"],
        sources=sources,
    )


def _semver(value: object, fail: Callable[[str], ManifestError]) -> SemVer:
    if not isinstance(value, str):
        raise fail(f'must be a quoted version like "1.0.0", not {type(value).__name__}')
    try:
        return SemVer.parse(value)
    except SemVerError as error:
        raise fail(str(error)) from None


def _retries(pond: dict[str, Any], key: str, fail: _Fail) -> int:
    value = pond.get(key, 0)
    # bool is an int in Python; `true` is not a count.
    if isinstance(value, bool) or not isinstance(value, int):
        raise fail(f"[pond] {key}", f"must be a whole number, not {value!r}")
    if value < 0:
        raise fail(f"[pond] {key}", f"must not be negative (got {value})")
    return value


def _module_path(pond: dict[str, Any], key: str, default: str, fail: _Fail) -> str:
    value = pond.get(key, default)
    if not isinstance(value, str) or not value.strip():
        raise fail(f"[pond] {key}", "must be a relative path to a .py file, e.g. " + default)
    if "\\" in value or ":" in value:
        raise fail(f"[pond] {key}", f"{value!r}: write a relative path with '/' separators")
    path = PurePosixPath(value)
    if path.is_absolute() or ".." in path.parts:
        raise fail(f"[pond] {key}", f"{value!r} escapes the project folder; use a path inside it")
    if path.suffix != ".py":
        raise fail(f"[pond] {key}", f"{value!r} is not a Python module (.py file)")
    return str(path)


def _sources(table: object, own_name: str, fail: _Fail) -> tuple[Source, ...]:
    if not isinstance(table, dict):
        raise fail("[sources]", 'must be a table of NAME = "X.Y.Z" entries')
    sources = []
    for name, requirement in table.items():
        key = f"[sources] {name}"
        problem = pond_name_problem(name)
        if problem is not None:
            raise fail(key, problem)
        if name == own_name:
            raise fail(key, "a Pond cannot be its own Source (use a self-puddle for prior state)")
        if not isinstance(requirement, str):
            raise fail(key, f'must be a quoted minimum version like "1.2.0" (got {requirement!r})')
        optional = requirement.endswith("?")
        minimum = _semver(requirement.removesuffix("?"), functools.partial(fail, key))
        sources.append(Source(name, minimum.major, minimum, optional))
    return tuple(sources)
