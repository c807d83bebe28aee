"""``duckstring get``: download a Ripple's published output."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from duckstring.cli.common import CatchmentOption, MajorOption, VersionOption, connect, selectors
from duckstring.cli.output import console


def register(app: typer.Typer) -> None:
    app.command("get")(get)


def get(
    pond: Annotated[str, typer.Argument(help="Pond name")],
    ripple: Annotated[str, typer.Argument(help="Ripple whose output to download")],
    path: Annotated[
        Path | None, typer.Option("--path", help="Folder (default ./ponds/POND/RIPPLE/)")
    ] = None,
    catchment: CatchmentOption = None,
    major: MajorOption = None,
    version: VersionOption = None,
) -> None:
    """Download RIPPLE's published Parquet into ./ponds/POND/RIPPLE/ (or --path)."""
    folder = path if path is not None else Path("ponds") / pond / ripple
    with connect(catchment) as client:
        response = client.request(
            "GET", f"/ponds/{pond}/ripples/{ripple}", params=selectors(major, version)
        )
    folder.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(io.BytesIO(response.content)) as archive:
        for member in archive.infolist():
            name = Path(member.filename).name  # flat: never a path from the server
            if not name or member.is_dir():
                continue
            (folder / name).write_bytes(archive.read(member))
            console.print(f"wrote {escape(str(folder / name))}")
