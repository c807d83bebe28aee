"""How the CLI talks to people: one console for results, one for errors and warnings.

An expected error is one line on stderr and a non-zero exit, never a Python traceback.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import NoReturn

import typer
from rich.console import Console
from rich.markup import escape

console = Console(highlight=False)
errors = Console(stderr=True, highlight=False)


def fail(message: str, code: int = 1) -> NoReturn:
    """Print ``error: message`` as one line on stderr and exit with ``code``."""
    errors.print(f"[bold red]error:[/] {escape(message)}", soft_wrap=True)
    raise typer.Exit(code)


def warn(message: str) -> None:
    """Print ``warning: message`` on stderr."""
    errors.print(f"[yellow]warning:[/] {escape(message)}", soft_wrap=True)


def show_traceback(text: str) -> None:
    """Print an author's traceback (a failed Ripple, puddle or module) on stderr, verbatim."""
    errors.print(escape(text.rstrip()), soft_wrap=True)


@contextmanager
def expected_errors(*kinds: type[BaseException]) -> Iterator[None]:
    """Turn the given exception types into a one-line error and exit code 1."""
    try:
        yield
    except kinds as error:
        fail(_message(error))


def _message(error: BaseException) -> str:
    if isinstance(error, KeyError) and error.args:
        return str(error.args[0])  # str(KeyError) adds quotes around the message
    return str(error)
