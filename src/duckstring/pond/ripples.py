"""``@ripple``: mark a function as one Ripple of a Pond.

A Ripple is a function of exactly one positional argument, the Pond handle. Decorating returns
the function unchanged; the decorator only attaches a :class:`RippleSpec` to it and, while a
Pond module is being discovered, records the spec so discovery sees every Ripple defined, even
two that share a Python name.
"""

from __future__ import annotations

import inspect
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, TypeVar, overload

from duckstring.pond.isolation import DefinitionError
from duckstring.pond.names import identifier_problem

F = TypeVar("F", bound=Callable[..., Any])

#: Attribute under which a decorated function carries its :class:`RippleSpec`.
SPEC_ATTRIBUTE = "__duckstring_ripple__"

_collector: ContextVar[list[RippleSpec] | None] = ContextVar("ripple_collector", default=None)


class RippleError(DefinitionError):
    """A misused ``@ripple`` or an invalid Ripple topology; the message names file and Ripple."""


@dataclass(frozen=True, eq=False)
class RippleSpec:
    """What ``@ripple`` recorded about one function."""

    name: str
    function: Callable[[Any], Any]
    parents: tuple[Callable[..., Any], ...]
    module: str
    file: str
    line: int

    @property
    def where(self) -> str:
        return f"{self.file}:{self.line}"


@overload
def ripple(function: F, /) -> F: ...


@overload
def ripple(
    *, parents: Sequence[Callable[..., Any]] = (), name: str | None = None
) -> Callable[[F], F]: ...


def ripple(
    function: Any = None,
    /,
    *,
    parents: Sequence[Callable[..., Any]] = (),
    name: str | None = None,
) -> Any:
    """Register ``function`` as a Ripple; use bare (``@ripple``) or with options.

    ``parents`` are other ``@ripple`` functions of the same module that must finish first;
    ``name`` overrides the Ripple's name (default: the function's name). The function must take
    exactly one positional argument, the Pond handle. Returns the function unchanged.
    """
    if function is not None:
        if not callable(function):
            raise RippleError(
                f"{_caller()}: @ripple got {function!r}; write @ripple, or "
                "@ripple(parents=[...], name='x')"
            )
        return _register(function, (), None)
    if isinstance(parents, str | bytes) or not isinstance(parents, Sequence):
        raise RippleError(
            f"{_caller()}: @ripple(parents=...) takes a list of @ripple functions, not {parents!r}"
        )

    def decorate(target: F) -> F:
        return _register(target, tuple(parents), name)

    return decorate


def spec_of(function: object) -> RippleSpec | None:
    """The spec ``@ripple`` attached to ``function``, or ``None`` if it is not a Ripple."""
    spec = getattr(function, SPEC_ATTRIBUTE, None)
    return spec if isinstance(spec, RippleSpec) else None


@contextmanager
def collecting_ripples() -> Iterator[list[RippleSpec]]:
    """Record, in order, every ``@ripple`` applied in this thread while the block runs."""
    collected: list[RippleSpec] = []
    token = _collector.set(collected)
    try:
        yield collected
    finally:
        _collector.reset(token)


def _register(function: F, parents: tuple[Callable[..., Any], ...], name: str | None) -> F:
    where = _location(function)
    if not inspect.isfunction(function):
        raise RippleError(f"{where}: @ripple decorates a plain function, not {function!r}")
    label = name if name is not None else function.__name__
    problem = identifier_problem(label, "Ripple")
    if problem is not None:
        raise RippleError(f"{where}: {problem}")
    if inspect.iscoroutinefunction(function) or inspect.isasyncgenfunction(function):
        raise RippleError(f"{where}: Ripple {label!r} is async; a Ripple is a plain function")
    if inspect.isgeneratorfunction(function):
        raise RippleError(f"{where}: Ripple {label!r} is a generator; a Ripple returns normally")
    _check_signature(function, label, where)
    for parent in parents:
        parent_spec = spec_of(parent)
        if parent_spec is None:
            raise RippleError(
                f"{where}: parent {_describe(parent)} of Ripple {label!r} is not a @ripple "
                "function; list the Ripple functions themselves, decorated above this one"
            )
        if parent_spec.module != function.__module__:
            raise RippleError(
                f"{where}: parent {parent_spec.name!r} of Ripple {label!r} is defined in "
                f"{parent_spec.file}; parents must be Ripples of the same module"
            )
    spec = RippleSpec(
        name=label,
        function=function,
        parents=parents,
        module=function.__module__,
        file=function.__code__.co_filename,
        line=function.__code__.co_firstlineno,
    )
    setattr(function, SPEC_ATTRIBUTE, spec)
    collected = _collector.get()
    if collected is not None:
        collected.append(spec)
    return function


def _check_signature(function: Callable[..., Any], label: str, where: str) -> None:
    expected = "a Ripple takes exactly one positional argument, the Pond handle: def f(pond)"
    try:
        parameters = list(inspect.signature(function).parameters.values())
    except (TypeError, ValueError):
        raise RippleError(f"{where}: cannot read the signature of Ripple {label!r}") from None
    positional = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    if (
        len(parameters) != 1
        or parameters[0].kind not in positional
        or parameters[0].default is not inspect.Parameter.empty
    ):
        shown = ", ".join(str(parameter) for parameter in parameters)
        raise RippleError(f"{where}: Ripple {label!r} has signature ({shown}); {expected}")


def _location(function: object) -> str:
    code = getattr(function, "__code__", None)
    if code is None:
        return "@ripple"
    return f"{code.co_filename}:{code.co_firstlineno}"


def _caller() -> str:
    # Two frames up: past this helper and past ripple() itself, to the decorated line.
    frame = sys._getframe(2)
    return f"{frame.f_code.co_filename}:{frame.f_lineno}"


def _describe(value: object) -> str:
    name = getattr(value, "__name__", None)
    return repr(name) if isinstance(name, str) else repr(value)
