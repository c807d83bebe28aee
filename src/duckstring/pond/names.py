"""Validation of the names that later become path components and SQL identifiers.

Pond names end up in paths on a Catchment (``ponds/{name}/m{major}/``) and in URLs; table and
Ripple names end up as file names (``data/{table}.parquet``). They are checked here, strictly,
before they touch a path.
"""

from __future__ import annotations

import re

MAX_NAME_LENGTH = 64

_POND_NAME = re.compile(r"[a-z][a-z0-9_-]*")
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def pond_name_problem(name: object) -> str | None:
    """Why ``name`` is not a valid Pond name, or ``None`` when it is."""
    if not isinstance(name, str):
        return f"a Pond name must be text, not {type(name).__name__}"
    if not name:
        return "a Pond name must not be empty"
    if len(name) > MAX_NAME_LENGTH:
        return f"Pond name {name!r} is longer than {MAX_NAME_LENGTH} characters"
    if not _POND_NAME.fullmatch(name):
        return (
            f"Pond name {name!r} is not allowed: use lowercase letters, digits, '_' and '-', "
            "starting with a letter"
        )
    return None


def check_pond_name(name: object) -> str:
    """Return ``name`` if it is a valid Pond name, else raise ``ValueError`` saying why."""
    problem = pond_name_problem(name)
    if problem is not None:
        raise ValueError(problem)
    assert isinstance(name, str)
    return name


def identifier_problem(name: object, what: str) -> str | None:
    """Why ``name`` is not a valid table or Ripple name (``what`` says which), or ``None``."""
    if not isinstance(name, str):
        return f"a {what} name must be text, not {type(name).__name__}"
    if not name:
        return f"a {what} name must not be empty"
    if len(name) > MAX_NAME_LENGTH:
        return f"{what} name {name!r} is longer than {MAX_NAME_LENGTH} characters"
    if not _IDENTIFIER.fullmatch(name):
        return (
            f"{what} name {name!r} is not allowed: use ASCII letters, digits and '_', "
            "not starting with a digit"
        )
    return None


def check_table_name(name: object) -> str:
    """Return ``name`` if it is a valid table name, else raise ``ValueError`` saying why."""
    problem = identifier_problem(name, "table")
    if problem is not None:
        raise ValueError(problem)
    assert isinstance(name, str)
    if is_internal_table(name):
        raise ValueError(f"table name {name!r} is reserved: it starts with {INTERNAL_PREFIX!r}")
    return name


def quote_identifier(name: str) -> str:
    """``name`` as a double-quoted SQL identifier."""
    return '"' + name.replace('"', '""') + '"'


#: Prefix of the working database's own bookkeeping tables (staging tables of a write in
#: flight). Such tables are never exported and a Pond cannot name a table with it.
INTERNAL_PREFIX = "__duckstring_"


def is_internal_table(name: str) -> bool:
    """True for Duckstring's own tables in a working database, which are never published."""
    return name.startswith(INTERNAL_PREFIX)


def line_id(name: str, major: int) -> str:
    """The id of Pond ``name``'s major line ``major``: ``name@major``, as the engine, the API and
    the store write it. ``name`` is a checked Pond name already; nothing is checked here."""
    return f"{name}@{major}"


def parse_line(line: object) -> tuple[str, int]:
    """The Pond name and major of a line id ``name@major``; ``ValueError`` saying what is wrong
    with a malformed one."""
    if not isinstance(line, str):
        raise ValueError(f"a line is written name@major, e.g. sales@1, not {line!r}")
    name, at, major = line.rpartition("@")
    if not at or not major.isdigit() or not major.isascii() or str(int(major)) != major:
        raise ValueError(f"bad line {line!r}: a line is written name@major, e.g. sales@1")
    problem = pond_name_problem(name)
    if problem is not None:
        raise ValueError(f"bad line {line!r}: {problem}")
    return name, int(major)
