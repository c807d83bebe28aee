"""The Catchment for an ASGI host such as Posit Connect: ``rsconnect deploy fastapi .``.

Configured by the environment only (``DUCKSTRING_ROOT``, ``DUCKSTRING_API_KEY``); see
``deploy/README.md``. Run exactly one process of it.
"""

from duckstring.catchment.asgi import app

__all__ = ["app"]
