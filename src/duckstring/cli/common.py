"""Options and helpers shared by the commands that talk to a Catchment."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any

import typer

from duckstring.cli.output import fail
from duckstring.remote.client import CatchmentClient, ClientError
from duckstring.remote.config import ConfigError, load

CatchmentOption = Annotated[
    str | None,
    typer.Option("--catchment", "-c", help="Registered Catchment (default: the default one)"),
]
MajorOption = Annotated[
    int | None, typer.Option("--major", "-m", help="Major line (default: the highest deployed)")
]
VersionOption = Annotated[
    str | None,
    typer.Option("--version", "-v", help="Must be the selected version of its line"),
]
SilentOption = Annotated[bool, typer.Option("--silent", help="Do not open the live view")]
WatchOption = Annotated[bool, typer.Option("--watch", help="Keep the live view open")]


@contextmanager
def connect(catchment: str | None) -> Iterator[CatchmentClient]:
    """A client of the chosen Catchment; expected failures end as one clear line."""
    try:
        registration = load().resolve(catchment)
    except ConfigError as error:
        fail(str(error))
    client = CatchmentClient(registration)
    try:
        yield client
    except ClientError as error:
        fail(str(error))
    finally:
        client.close()


def selectors(major: int | None, version: str | None) -> dict[str, Any]:
    params: dict[str, Any] = {}
    if major is not None:
        params["major"] = major
    if version is not None:
        params["version"] = version
    return params
