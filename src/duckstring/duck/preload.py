"""Imported by the Catchment's forkserver, and by nothing else, before it forks any Duck: it
builds the DuckDB instance the Ducks attach their working databases to (see
:mod:`duckstring.duck.registry`)."""

from duckstring.duck import registry

registry.prepare()
