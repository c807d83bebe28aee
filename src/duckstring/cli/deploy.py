"""``duckstring pond deploy``: package a Pond project and upload it to a Catchment."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from duckstring.cli.common import CatchmentOption, connect
from duckstring.cli.output import console, fail
from duckstring.cli.pond import pond_app
from duckstring.pond.archive import zip_project
from duckstring.pond.manifest import MANIFEST_FILE, ManifestError, find_project, load_manifest
from duckstring.remote.client import CatchmentClient, ClientError


def register(app: typer.Typer) -> None:
    """``deploy`` joins the ``pond`` group."""


def _exists(client: CatchmentClient, name: str, version: str) -> bool:
    try:
        client.get(f"/ponds/{name}/versions/{version}")
    except ClientError as error:
        if "never deployed" in str(error):
            return False
        raise
    return True


def _git(project: Path, *args: str) -> str:
    result = subprocess.run(
        ["git", *args], cwd=project, capture_output=True, text=True, timeout=10, check=True
    )
    return result.stdout.strip()


def _is_relative_path(url: str) -> bool:
    """Whether git reads ``url`` as a local path relative to the working tree: no scheme, no
    ``host:`` before the first slash (git's ssh shorthand), not absolute."""
    colon, slash = url.find(":"), url.find("/")
    remote = "://" in url or (colon >= 0 and (slash < 0 or colon < slash))
    return not remote and not url.startswith("/")


def _origin(project: Path) -> str:
    """The URL of the project's ``origin`` remote, a relative local path made absolute (the
    Catchment does not share this working folder)."""
    try:
        url = _git(project, "remote", "get-url", "origin")
        if _is_relative_path(url):
            # git resolves a relative remote against the top of the working tree.
            url = str((Path(_git(project, "rev-parse", "--show-toplevel")) / url).resolve())
    except (OSError, subprocess.SubprocessError):
        fail(f"{project} has no git remote 'origin' to deploy from")
    return url


def deploy_project(
    client: CatchmentClient, project: Path, *, yes: bool, git_ref: str | None = None
) -> None:
    try:
        manifest = load_manifest(project / MANIFEST_FILE)
    except ManifestError as error:
        fail(str(error))
    name, version = manifest.name, str(manifest.version)
    if _exists(client, name, version) and not yes:
        console.print(
            f"{escape(name)} {version} already exists on this Catchment: deploying it again "
            "overwrites it, run history included."
        )
        if not typer.confirm("Overwrite?", default=False):
            raise typer.Exit(1)
    fields = {"name": name, "version": version, "type": manifest.type}
    if git_ref is not None:
        answer = client.post(
            "/deploy", json={**fields, "git_ref": git_ref, "repo_url": _origin(project)}
        )
    else:
        archive = zip_project(project)
        answer = client.post(
            "/deploy", data=fields, files={"pond": (f"{name}.zip", archive, "application/zip")}
        )
    ripples = ", ".join(answer["ripples"])
    console.print(f"deployed [bold]{escape(answer['id'])}[/] {version} ({escape(ripples)})")


@pond_app.command("deploy")
def deploy(
    catchment: CatchmentOption = None,
    git: Annotated[
        str | None, typer.Option("--git", help="Deploy this git ref of the 'origin' remote")
    ] = None,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Overwrite without asking")] = False,
    all_: Annotated[
        bool, typer.Option("--all", help="Deploy every subfolder holding a pond.toml")
    ] = False,
) -> None:
    """Package this Pond project (no .git, venvs, caches or puddles) and upload it."""
    here = Path.cwd()
    if all_:
        projects = sorted(p.parent for p in here.glob(f"*/{MANIFEST_FILE}"))
        if not projects:
            fail(f"no subfolder of {here} holds a {MANIFEST_FILE}")
    else:
        try:
            projects = [find_project(here)]
        except ManifestError as error:
            fail(str(error))
    with connect(catchment) as client:
        for project in projects:
            deploy_project(client, project, yes=yes, git_ref=git)
