"""Duckstring: data pipelines for DuckDB, run by freshness and demand.

The public API for Pond authors is :func:`ripple` and :func:`puddle`.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from duckstring.pond.puddle import puddle
    from duckstring.pond.ripples import ripple

try:
    __version__ = version("duckstring")
except PackageNotFoundError:  # running from a source tree without an install
    __version__ = "0.0.0"

__all__ = ["__version__", "puddle", "ripple"]


def __getattr__(name: str) -> Any:
    # Imported on first use, so `import duckstring.engine` stays free of DuckDB and I/O.
    if name == "ripple":
        from duckstring.pond.ripples import ripple

        return ripple
    if name == "puddle":
        from duckstring.pond.puddle import puddle

        return puddle
    raise AttributeError(f"module 'duckstring' has no attribute {name!r}")
