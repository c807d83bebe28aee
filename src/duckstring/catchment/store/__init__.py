"""The Catchment database (``duck.db``): schema, migrations and every read and write of it."""

from duckstring.catchment.store.db import Store

__all__ = ["Store"]
