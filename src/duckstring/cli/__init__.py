"""The `duckstring` / `ds` command line. It talks to a Catchment only over HTTP."""

from duckstring.cli.app import app, main

__all__ = ["app", "main"]
