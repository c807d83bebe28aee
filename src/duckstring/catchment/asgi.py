"""The packaged ASGI entry: ``uvicorn duckstring.catchment.asgi:app``.

Configured only by the environment: ``DUCKSTRING_ROOT`` (default ``./.duckstring``),
``DUCKSTRING_API_KEY`` (unset: open) and ``DUCKSTRING_CATCHMENT_URL`` (where Ducks dial back;
learned from the first request when unset). Run exactly one process of it per root.
"""

from __future__ import annotations

import os
from pathlib import Path

from duckstring.catchment.app import create_app
from duckstring.catchment.service import CatchmentConfig


def config_from_environment() -> CatchmentConfig:
    return CatchmentConfig(
        root=Path(os.environ.get("DUCKSTRING_ROOT", "./.duckstring")),
        api_key=os.environ.get("DUCKSTRING_API_KEY") or None,
        url=os.environ.get("DUCKSTRING_CATCHMENT_URL") or None,
    )


app = create_app(config_from_environment())
