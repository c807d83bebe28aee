"""Discover a Pond's Ripples by importing its module in isolation, and order them.

:func:`discover_ripples` gives the live functions in a stable topological order (parents before
children; among independent Ripples, definition order). :func:`discover_topology` gives the same
as plain JSON-ready data, and ``python -m duckstring.pond.topology FILE`` prints it, so a server
can run discovery in a separate process and read the answer back through
:func:`validate_topology`.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from duckstring.pond.isolation import DefinitionError, ModuleImportError, import_isolated
from duckstring.pond.names import identifier_problem
from duckstring.pond.ripples import RippleError, RippleSpec, collecting_ripples, spec_of


@dataclass(frozen=True)
class Ripple:
    """One discovered Ripple: its name, its parents' names and the function to call."""

    name: str
    parents: tuple[str, ...]
    function: Callable[[Any], Any]


@dataclass(frozen=True)
class Topology:
    """The Ripples of one Pond module in a stable topological order."""

    origin: str
    ripples: tuple[Ripple, ...]

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(item.name for item in self.ripples)

    def get(self, name: str) -> Ripple:
        """The Ripple called ``name``; ``KeyError`` with the known names if there is none."""
        for item in self.ripples:
            if item.name == name:
                return item
        raise KeyError(f"{self.origin} has no Ripple {name!r}; it has {', '.join(self.names)}")

    def with_ancestors(self, name: str) -> Topology:
        """The Ripple ``name`` and every Ripple it depends on, still in topological order."""
        wanted = {name}
        pending = [self.get(name)]
        while pending:
            for parent in pending.pop().parents:
                if parent not in wanted:
                    wanted.add(parent)
                    pending.append(self.get(parent))
        return Topology(self.origin, tuple(r for r in self.ripples if r.name in wanted))

    def to_data(self) -> list[dict[str, Any]]:
        """Plain, JSON-serialisable topology: ``[{"name": ..., "parents": [...]}, ...]``."""
        return [{"name": item.name, "parents": list(item.parents)} for item in self.ripples]


def discover_ripples(module_path: Path | str) -> Topology:
    """Import ``module_path`` in isolation and return its Ripples in topological order.

    Raises :class:`RippleError` for duplicate names, cycles, a parent that is not a Ripple of
    the same module, a Ripple defined in another module, or a module without Ripples;
    :class:`~duckstring.pond.isolation.ModuleImportError` if the module itself fails.
    """
    path = Path(module_path)
    with collecting_ripples() as collected:
        module = import_isolated(path)
    origin = str(path)
    own = [spec for spec in collected if spec.module == module.__name__]
    for spec in collected:
        if spec.module != module.__name__:
            raise RippleError(
                f"{spec.where}: Ripple {spec.name!r} is defined outside {origin}; "
                "every Ripple of a Pond must be defined in its ripples module"
            )
    if not own:
        raise RippleError(f"{origin}: defines no @ripple functions; a Pond needs at least one")
    _check_duplicates(own, origin)
    own_specs = {id(spec) for spec in own}
    entries: list[tuple[str, list[str]]] = []
    for spec in own:
        parent_names = []
        for parent in spec.parents:
            parent_spec = spec_of(parent)
            if parent_spec is None or id(parent_spec) not in own_specs:
                raise RippleError(
                    f"{spec.where}: a parent of Ripple {spec.name!r} is not a Ripple of {origin}"
                )
            parent_names.append(parent_spec.name)
        entries.append((spec.name, parent_names))
    order = order_ripples(entries, origin)
    parents_of = {name: tuple(dict.fromkeys(named)) for name, named in entries}
    function_of = {spec.name: spec.function for spec in own}
    return Topology(
        origin, tuple(Ripple(name, parents_of[name], function_of[name]) for name in order)
    )


def discover_topology(module_path: Path | str) -> list[dict[str, Any]]:
    """Plain topology of a module: ``[{"name": ..., "parents": [...]}, ...]`` in run order."""
    return discover_ripples(module_path).to_data()


def order_ripples(entries: Sequence[tuple[str, Iterable[str]]], origin: str) -> list[str]:
    """Names in a stable topological order (Kahn; ties keep the given order).

    Raises :class:`RippleError` on a duplicate name, an unknown parent or a cycle.
    """
    parents: dict[str, list[str]] = {}
    for name, named_parents in entries:
        if name in parents:
            raise RippleError(f"{origin}: duplicate Ripple name {name!r}")
        parents[name] = list(dict.fromkeys(named_parents))
    for name, named_parents in parents.items():
        for parent in named_parents:
            if parent not in parents:
                raise RippleError(
                    f"{origin}: Ripple {name!r} names parent {parent!r}, which is not a Ripple "
                    "of this module"
                )
    done: set[str] = set()
    order: list[str] = []
    while len(order) < len(parents):
        ready = [
            name
            for name in parents
            if name not in done and all(parent in done for parent in parents[name])
        ]
        if not ready:
            stuck = [name for name in parents if name not in done]
            raise RippleError(
                f"{origin}: Ripples form a cycle: {' -> '.join(_cycle(stuck, parents))}"
            )
        order.append(ready[0])
        done.add(ready[0])
    return order


def validate_topology(data: object, origin: str = "topology") -> list[dict[str, Any]]:
    """Check plain topology data (e.g. JSON from a discovery subprocess) and return it ordered."""
    if not isinstance(data, list):
        raise RippleError(f"{origin}: a topology is a list of {{name, parents}} objects")
    entries: list[tuple[str, list[str]]] = []
    for item in data:
        if not isinstance(item, dict) or set(item) != {"name", "parents"}:
            raise RippleError(f"{origin}: each Ripple is an object with name and parents")
        name, named_parents = item["name"], item["parents"]
        problem = identifier_problem(name, "Ripple")
        if problem is not None:
            raise RippleError(f"{origin}: {problem}")
        if not isinstance(named_parents, list) or not all(
            isinstance(p, str) for p in named_parents
        ):
            raise RippleError(f"{origin}: parents of Ripple {name!r} must be a list of names")
        entries.append((name, named_parents))
    if not entries:
        raise RippleError(f"{origin}: defines no Ripples; a Pond needs at least one")
    order = order_ripples(entries, origin)
    given = dict(entries)
    return [{"name": name, "parents": list(dict.fromkeys(given[name]))} for name in order]


def _check_duplicates(specs: list[RippleSpec], origin: str) -> None:
    seen: dict[str, RippleSpec] = {}
    for spec in specs:
        if spec.name in seen:
            raise RippleError(
                f"{origin}: duplicate Ripple name {spec.name!r} (line {seen[spec.name].line} "
                f"and line {spec.line})"
            )
        seen[spec.name] = spec


def _cycle(stuck: list[str], parents: dict[str, list[str]]) -> list[str]:
    # Walk parent links inside the stuck set until a name repeats: that loop is a cycle.
    path = [stuck[0]]
    while True:
        step = next(parent for parent in parents[path[-1]] if parent in stuck)
        if step in path:
            loop = [*path[path.index(step) :], step]
            return list(reversed(loop))
        path.append(step)


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m duckstring.pond.topology FILE``: print the topology as JSON, or one error."""
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 1:
        print("usage: python -m duckstring.pond.topology MODULE_FILE", file=sys.stderr)
        return 2
    try:
        data = discover_topology(args[0])
    except (DefinitionError, FileNotFoundError) as error:
        print(str(error), file=sys.stderr)
        return 1
    except ModuleImportError as error:
        print(error.traceback_text, file=sys.stderr, end="")
        print(str(error), file=sys.stderr)
        return 1
    print(json.dumps(data))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
