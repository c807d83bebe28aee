"""Duckstring: data pipelines for DuckDB, run by freshness and demand.

The public API for Pond authors is :func:`ripple` and :func:`puddle`.
"""

from importlib.metadata import PackageNotFoundError, version

from duckstring.pond.puddle import puddle
from duckstring.pond.ripples import ripple

try:
    __version__ = version("duckstring")
except PackageNotFoundError:  # running from a source tree without an install
    __version__ = "0.0.0"

__all__ = ["__version__", "puddle", "ripple"]
