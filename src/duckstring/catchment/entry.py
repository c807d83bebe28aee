"""The one way into the server from outside it: serving a local Catchment in this process.

``duckstring catchment init/start`` and ``duckstring demo`` run a Catchment in the foreground.
They import this module, and nothing else of the server, and only once they are about to start
one; everything else they do goes over HTTP, as the web UI's requests do.

A Catchment started here reads the same environment as the packaged ASGI app
(:mod:`duckstring.catchment.asgi` lists the variables), so every ``DUCKSTRING_*`` knob applies
to it. What is the command's own to decide is given instead of read: the root, the key, the URL
its Ducks dial, and that a git deploy may clone a local path (it runs on the author's machine).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from duckstring.catchment.service import CatchmentConfig, RootBusy, check_root_free
from duckstring.catchment.settings import LAUNCHERS, SettingError, knobs_from_environment

__all__ = ["LAUNCHERS", "RootBusy", "SettingError", "check_root_free", "read_knobs", "serve_root"]


def read_knobs(**given: Any) -> Mapping[str, Any]:
    """The knobs of a Catchment the CLI starts, from the environment, checked now: a command
    reads them before it registers or writes anything; a knob in ``given`` (its command's own
    option) is taken instead. Raises :class:`SettingError` (a ``SystemExit`` whose message
    names the variable) for a bad value."""
    return knobs_from_environment(allow_local_git=True, **given)


def serve_root(
    root: Path,
    *,
    host: str,
    port: int,
    url: str,
    key: str | None,
    knobs: Mapping[str, Any],
) -> None:
    """Serve a Catchment of ``root`` on ``host:port`` until Ctrl+C or SIGTERM. Its Ducks dial
    ``url``; with ``key``, all of ``/api`` but health asks for it; ``knobs`` come from
    :func:`read_knobs`."""
    from duckstring.catchment.app import create_app
    from duckstring.catchment.serve import serve

    config = CatchmentConfig(root=root, api_key=key, url=url, **knobs)
    serve(create_app(config), host=host, port=port)
