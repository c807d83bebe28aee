"""``@puddle``: code-defined local snapshots of Source tables, for testing a Pond before deploy.

``@puddle("source.table")`` makes one table of a Source; ``@puddle("source")`` may make any of its
tables. A puddle targeting the Pond itself is a *self-puddle*: the prior state a full local run
is seeded from. The function gets a :class:`Puddle` handle ``p`` and writes through it, or
returns a relation (shorthand for ``p.write_table``) or a path (shorthand for ``p.write_path``).
"""

from __future__ import annotations

import glob
import inspect
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, TypeVar

import duckdb

from duckstring.pond.export import PARQUET_SUFFIX, copy_to_parquet, sql_string
from duckstring.pond.isolation import DefinitionError, import_isolated
from duckstring.pond.names import check_table_name, identifier_problem, pond_name_problem
from duckstring.pond.scan import scanned

F = TypeVar("F", bound=Callable[..., Any])

_collector: ContextVar[list[PuddleSpec] | None] = ContextVar("puddle_collector", default=None)
_MISSING = object()
_FORMATS = {".parquet": "read_parquet", ".csv": "read_csv", ".tsv": "read_csv"}


class PuddleError(DefinitionError):
    """A misused ``@puddle`` or puddle handle; the message names the puddle and what is wrong."""


class CatchmentUnavailableError(RuntimeError):
    """A puddle asked for a Catchment, and none can be reached from here."""


class PublishedSource(Protocol):
    """What ``p.catchment()`` returns: read access to the Source's published tables.

    ``get(table=None)`` is a published table (the puddle's own when none is named) and
    ``query(sql)`` a query's result, both as relations on ``p.con``; ``tables()`` lists them.
    """

    def get(self, table: str | None = None) -> duckdb.DuckDBPyRelation: ...

    def query(self, sql: str) -> duckdb.DuckDBPyRelation: ...

    def tables(self) -> list[str]: ...


#: Gives a puddle its Source's published tables on a registered Catchment (``None``: the
#: default one). ``duckstring.remote`` installs it; without it puddles can only be made locally.
CatchmentFactory = Callable[[str | None, "Puddle"], PublishedSource]
_catchment_factory: CatchmentFactory | None = None


def set_catchment_factory(factory: CatchmentFactory | None) -> None:
    """Install (or remove) the function that gives puddles their Sources on a Catchment."""
    global _catchment_factory
    _catchment_factory = factory


@dataclass(frozen=True, eq=False)
class PuddleSpec:
    """What ``@puddle`` recorded about one function."""

    target: str
    source: str
    table: str | None
    function: Callable[[Any], Any]
    file: str
    line: int


def puddle(target: str) -> Callable[[F], F]:
    """Register a puddle for ``"source.table"`` or a whole ``"source"``; returns the function."""
    where = _caller()
    if not isinstance(target, str):
        raise PuddleError(
            f'{where}: @puddle takes the target as text, e.g. @puddle("sales.sale_line") '
            f'or @puddle("sales"), not {target!r}'
        )
    source, _, table = target.partition(".")
    problem = pond_name_problem(source) or (
        identifier_problem(table, "table") if table or "." in target else None
    )
    if problem is not None:
        raise PuddleError(f"{where}: @puddle({target!r}): {problem}")

    def decorate(function: F) -> F:
        location = f"{function.__code__.co_filename}:{function.__code__.co_firstlineno}"
        _check_signature(function, target, location)
        spec = PuddleSpec(
            target=target,
            source=source,
            table=table or None,
            function=function,
            file=function.__code__.co_filename,
            line=function.__code__.co_firstlineno,
        )
        collected = _collector.get()
        if collected is not None:
            collected.append(spec)
        return function

    return decorate


@contextmanager
def collecting_puddles() -> Iterator[list[PuddleSpec]]:
    """Record, in order, every ``@puddle`` applied in this thread while the block runs."""
    collected: list[PuddleSpec] = []
    token = _collector.set(collected)
    try:
        yield collected
    finally:
        _collector.reset(token)


def discover_puddles(module_path: Path | str) -> list[PuddleSpec]:
    """Import the puddles module in isolation and return its puddles in definition order."""
    with collecting_puddles() as collected:
        import_isolated(module_path)
    seen: dict[str, PuddleSpec] = {}
    for spec in collected:
        if spec.target in seen:
            raise PuddleError(
                f"{module_path}: two puddles for {spec.target!r} (lines {seen[spec.target].line} "
                f"and {spec.line}); keep one"
            )
        seen[spec.target] = spec
    return collected


class Puddle:
    """The handle a puddle function receives.

    ``target`` is what it was declared for, ``source`` and ``table`` its parts (``table`` is
    ``None`` for a whole-Source puddle), ``con`` a scratch in-memory DuckDB, ``path`` the folder
    its Parquet files land in. Relative paths given to :meth:`write_path` are taken from the
    project folder ``project``.
    """

    def __init__(
        self,
        spec: PuddleSpec,
        path: Path,
        project: Path,
        catchment_name: str | None = None,
    ) -> None:
        self.target = spec.target
        self.source = spec.source
        self.table = spec.table
        self.path = Path(path)
        self.project = Path(project)
        self.con = duckdb.connect()
        self._catchment_name = catchment_name
        self._on_close: list[Callable[[], None]] = []
        #: Tables written so far, with their row counts.
        self.written: dict[str, int] = {}

    def __repr__(self) -> str:
        return f"Puddle({self.target!r})"

    def write_table(self, name_or_data: object, data: object = _MISSING) -> None:
        """Write a table: ``p.write_table(relation)`` or ``p.write_table("name", relation)``.

        A table puddle writes its own table (the name may be left out); a whole-Source puddle
        names each table. ``relation`` is anything DuckDB can scan.
        """
        if data is _MISSING:
            name, data = None, name_or_data
        else:
            if not isinstance(name_or_data, str):
                raise TypeError("p.write_table(name, relation): the name comes first, as text")
            name = name_or_data
        table = self._table_name(name)
        self.path.mkdir(parents=True, exist_ok=True)
        with scanned(self.con, data, "p.write_table") as view:
            rows = copy_to_parquet(
                self.con, f"SELECT * FROM {view}", self.path / f"{table}{PARQUET_SUFFIX}"
            )
        self.written[table] = rows

    def write_path(self, path_or_glob: str | os.PathLike[str]) -> None:
        """Copy Parquet or CSV files (a path or a glob) into the puddle.

        A table puddle makes its one table from every matching file; a whole-Source puddle
        makes one table per file, named after the file.
        """
        pattern = Path(path_or_glob)
        if not pattern.is_absolute():
            pattern = self.project / pattern
        files = sorted(Path(match) for match in glob.glob(str(pattern), recursive=True))
        files = [file for file in files if file.is_file()]
        if not files:
            raise FileNotFoundError(f"puddle {self.target!r}: no files match {path_or_glob}")
        readers = {self._reader(file) for file in files}
        if len(readers) > 1:
            raise PuddleError(
                f"puddle {self.target!r}: {path_or_glob} mixes Parquet and CSV files; "
                "write each kind separately"
            )
        reader = readers.pop()
        if self.table is not None:
            listed = ", ".join(sql_string(str(file)) for file in files)
            query = f"SELECT * FROM {reader}([{listed}], union_by_name = true)"
            self._copy(self.table, query)
            return
        for file in files:
            name = file.name.split(".", 1)[0]
            self._copy(self._table_name(name), f"SELECT * FROM {reader}({sql_string(str(file))})")

    def catchment(self, name: str | None = None) -> PublishedSource:
        """The Source's published tables on a registered Catchment (default: the ``-c`` one,
        else the default).

        Raises :class:`CatchmentUnavailableError` while no Catchment client is available.
        """
        chosen = name if name is not None else self._catchment_name
        if _catchment_factory is None:
            which = f"Catchment {chosen!r}" if chosen else "a Catchment"
            raise CatchmentUnavailableError(
                f"puddle {self.target!r} asked for {which}, but no Catchment is registered "
                "and this version of Duckstring has no Catchment client yet; build the puddle "
                "from local data instead"
            )
        return _catchment_factory(chosen, self)

    def on_close(self, action: Callable[[], None]) -> None:
        """Run ``action`` when the handle closes, once ``con`` has (files that relations on
        ``con`` read, such as a Catchment client's downloads, can go then)."""
        self._on_close.append(action)

    def close(self) -> None:
        self.con.close()
        actions, self._on_close = self._on_close, []
        for action in actions:
            action()

    def _copy(self, table: str, query: str) -> None:
        self.path.mkdir(parents=True, exist_ok=True)
        rows = copy_to_parquet(self.con, query, self.path / f"{table}{PARQUET_SUFFIX}")
        self.written[table] = rows

    def _table_name(self, name: str | None) -> str:
        if name is None:
            if self.table is None:
                raise PuddleError(
                    f"puddle {self.target!r} is for a whole Source: name each table, "
                    'p.write_table("table", relation)'
                )
            return self.table
        try:
            check_table_name(name)
        except ValueError as error:
            raise PuddleError(f"puddle {self.target!r}: {error}") from None
        if self.table is not None and name != self.table:
            raise PuddleError(
                f"puddle {self.target!r} writes table {self.table!r} only, not {name!r}; "
                f"use @puddle({self.source!r}) to write several tables"
            )
        return name

    def _reader(self, file: Path) -> str:
        suffixes = [suffix.lower() for suffix in file.suffixes]
        for suffix in reversed(suffixes):
            if suffix in _FORMATS:
                return _FORMATS[suffix]
        raise PuddleError(
            f"puddle {self.target!r}: {file.name} is neither Parquet nor CSV "
            "(.parquet, .csv, .tsv, optionally compressed like .csv.gz)"
        )


def run_puddle(
    spec: PuddleSpec, path: Path, project: Path, catchment_name: str | None = None
) -> dict[str, int]:
    """Call one puddle function, apply its return shorthand, and return ``{table: rows}``."""
    handle = Puddle(spec, path, project, catchment_name)
    try:
        result = spec.function(handle)
        if isinstance(result, str | os.PathLike):
            handle.write_path(result)
        elif result is not None:
            handle.write_table(result)
        return dict(handle.written)
    finally:
        handle.close()


def _check_signature(function: Callable[..., Any], target: str, where: str) -> None:
    if not inspect.isfunction(function):
        raise PuddleError(f"{where}: @puddle({target!r}) decorates a plain function")
    parameters = list(inspect.signature(function).parameters.values())
    positional = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    if (
        len(parameters) != 1
        or parameters[0].kind not in positional
        or parameters[0].default is not inspect.Parameter.empty
    ):
        raise PuddleError(
            f"{where}: puddle {function.__name__!r} for {target!r} must take exactly one "
            "positional argument, the puddle handle: def f(p)"
        )


def _caller() -> str:
    # Two frames up: past this helper and past puddle() itself, to the decorated line.
    frame = sys._getframe(2)
    return f"{frame.f_code.co_filename}:{frame.f_lineno}"
