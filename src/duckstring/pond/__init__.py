"""The Pond author's side: ``pond.toml``, ``@ripple``, ``@puddle``, the Pond handle, Parquet export.

Nothing here talks to a Catchment; the Duck and the local runner both build on it.
"""
