"""The root Typer application; each command group lives in its own module."""

from __future__ import annotations

import typer

from duckstring import __version__

app = typer.Typer(
    name="duckstring",
    help="Duckstring: data pipelines for DuckDB, run by freshness and demand.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"duckstring {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    version: bool = typer.Option(
        False,
        "--version",
        callback=_print_version,
        is_eager=True,
        help="Print the Duckstring version and exit.",
    ),
) -> None:
    """Duckstring: data pipelines for DuckDB, run by freshness and demand."""


def _register_groups() -> None:
    # Imported here so each group module can import `app` without a cycle. Each group module
    # exposes `register(app)`.
    from importlib import import_module

    for module in _GROUPS:
        import_module(f"duckstring.cli.{module}").register(app)


#: Command-group modules under ``duckstring.cli``, in help order.
_GROUPS: list[str] = [
    "demo",
    "catchment",
    "pond",
    "deploy",
    "puddle",
    "status",
    "trigger",
    "control",
    "why",
    "alert",
    "query",
    "get",
]


_register_groups()


def main() -> None:
    app()
