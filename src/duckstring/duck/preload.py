"""Imported by the Catchment's forkserver, and by nothing else, before it forks any Duck: it
builds the DuckDB instance the Ducks attach their working databases to (see
:mod:`duckstring.duck.registry`), then freezes the garbage collector's view of everything
loaded so far.

A forked Duck shares the forkserver's memory until it writes to it, and a collection writes
to every object it examines. Without the freeze, a new Duck's first collection of the young
generations went through the ~3,300 objects the imports had just left there (and a full one
through all ~46,000), copying their pages and taking ~2 ms on the way to its first Ripple.
Frozen, they are left alone: what the forkserver loaded lives as long as any Duck anyway.
"""

import gc

from duckstring.duck import registry

registry.prepare()
gc.freeze()
