"""``duckstring pond``: create Pond projects and test them locally (init, demo, hydrate, run)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from duckstring.cli.output import console, expected_errors, fail, show_traceback, warn
from duckstring.local.hydrate import PuddleFailedError, hydrate
from duckstring.local.layout import LocalLayout
from duckstring.local.runner import RippleOutcome, run_pond
from duckstring.local.scaffold import ScaffoldError, ignores_puddles, init_project, write_demo
from duckstring.pond.isolation import DefinitionError, ModuleImportError
from duckstring.pond.manifest import ManifestError, find_project
from duckstring.pond.puddle import CatchmentUnavailableError

pond_app = typer.Typer(
    help="Create Pond projects and test them locally, with no Catchment.",
    no_args_is_help=True,
)

#: Errors a Pond author causes and can fix from the message alone.
_EXPECTED = (ManifestError, DefinitionError, ScaffoldError, FileNotFoundError, KeyError)


def register(app: typer.Typer) -> None:
    app.add_typer(pond_app, name="pond")


@pond_app.command("init")
def init(
    name: Annotated[str, typer.Argument(help="Pond name: lowercase letters, digits, _ and -.")],
) -> None:
    """Make the current folder the Pond project NAME (manifest, a blank Ripple, puddles,
    README, .gitignore). Files already here are kept; a pond.toml here refuses."""
    with expected_errors(*_EXPECTED):
        project = init_project(Path.cwd(), name)
    # soft_wrap: a long path stays on one line, whole, to copy.
    console.print(
        f"Created Pond [bold]{escape(name)}[/] in {escape(str(project.folder))}", soft_wrap=True
    )
    for relative in project.written:
        console.print(f"  wrote {escape(relative)}")
    if project.kept:
        console.print(
            f"  kept your {escape(', '.join(project.kept))} (already here)", soft_wrap=True
        )
    if ".gitignore" in project.kept and not ignores_puddles(project.folder / ".gitignore"):
        warn("your .gitignore does not ignore puddles/ (local snapshots and output): add it")
    console.print("Next: duckstring pond hydrate && duckstring pond run")


@pond_app.command("demo")
def demo() -> None:
    """Write the demo Ponds transactions, products (Inlets), sales and reports (Outlet) here."""
    with expected_errors(*_EXPECTED):
        projects = write_demo(Path.cwd())
    for project in projects:
        console.print(f"Created {escape(str(project))}")
    console.print(
        "Try: cd sales && duckstring pond hydrate && duckstring pond run "
        "(DUCKSTRING_DEMO_SCALE=0.1 runs the Ripples ten times faster)"
    )


@pond_app.command("hydrate")
def hydrate_command(
    sources: Annotated[
        list[str] | None,
        typer.Option(
            "-s",
            "--source",
            metavar="SOURCE",
            help="Hydrate only this Source (repeatable); default: all.",
        ),
    ] = None,
    from_catchment: Annotated[
        bool,
        typer.Option("--from-catchment", help="Fetch Sources without a puddle from the Catchment."),
    ] = False,
    catchment: Annotated[
        str | None,
        typer.Option(
            "-c", "--catchment", metavar="NAME", help="The Catchment p.catchment() talks to."
        ),
    ] = None,
) -> None:
    """Materialise puddles into puddles/ponds/{source}/data/{table}.parquet.

    Sources without a puddle are skipped with a warning.
    """
    with expected_errors(*_EXPECTED, CatchmentUnavailableError):
        project = find_project(Path.cwd())
        try:
            hydrated = hydrate(
                project,
                sources or (),
                catchment=catchment,
                warn=warn,
                from_catchment=from_catchment,
            )
        except ModuleImportError as error:
            show_traceback(error.traceback_text)
            fail(str(error))
        except PuddleFailedError as error:
            if isinstance(error.error, CatchmentUnavailableError | DefinitionError):
                fail(f"puddle {error.target!r}: {error.error}")
            show_traceback(error.traceback_text)
            fail(str(error))
    if not hydrated:
        console.print("Nothing hydrated.")
        return
    table = Table("table", "rows", "file", title="Hydrated puddles", title_justify="left")
    for item in hydrated:
        path = item.path.relative_to(project)
        table.add_row(f"{item.source}.{item.table}", f"{item.rows:,}", str(path))
    console.print(table)


@pond_app.command("run")
def run_command(
    ripple: Annotated[
        str | None,
        typer.Option(
            "--ripple",
            metavar="NAME",
            help="Run only this Ripple, together with the Ripples it depends on (its "
            "ancestors), since every local run starts from a fresh working database.",
        ),
    ] = None,
    fresh: Annotated[
        bool,
        typer.Option("--fresh", help="Ignore the self-puddle: start from an empty database."),
    ] = False,
) -> None:
    """Run the Pond locally against its puddles; output in puddles/out/{table}.parquet.

    The working database puddles/registry.duckdb is recreated for every run and seeded from the
    self-puddle (unless --fresh), so repeated runs give the same output. Ripples run in
    dependency order, independent ones in parallel. A failing Ripple prints its traceback and
    the command exits non-zero.
    """
    with expected_errors(*_EXPECTED):
        project = find_project(Path.cwd())
        try:
            result = run_pond(project, ripple=ripple, fresh=fresh, on_finish=_report_ripple)
        except ModuleImportError as error:
            show_traceback(error.traceback_text)
            fail(str(error))
    if result.seeded:
        console.print(f"Seeded from the self-puddle: {', '.join(result.seeded)}")
    if not result.ok:
        for outcome in result.failed:
            console.print(f"\n[bold red]Ripple {escape(outcome.name)} failed[/]")
            show_traceback(outcome.traceback_text)
        if result.skipped:
            console.print(f"Not run: {', '.join(result.skipped)}")
        names = ", ".join(outcome.name for outcome in result.failed)
        fail(f"pond run of {result.pond} failed in Ripple {names}; nothing was exported")
    layout = LocalLayout(project)
    table = Table("table", "rows", "file", title="Output", title_justify="left")
    for item in result.exported:
        table.add_row(item.name, f"{item.rows:,}", str(item.path.relative_to(project)))
    if result.exported:
        console.print(table)
    else:
        console.print(f"The run wrote no tables (output folder {layout.out.relative_to(project)}).")


def _report_ripple(outcome: RippleOutcome) -> None:
    if outcome.ok:
        made = f" → {', '.join(outcome.tables)}" if outcome.tables else ""
        console.print(
            f"[green]✓[/] {escape(outcome.name)} [dim]{outcome.seconds:.2f} s[/]{escape(made)}"
        )
    else:
        console.print(f"[red]✗[/] {escape(outcome.name)} [dim]{outcome.seconds:.2f} s[/]")
