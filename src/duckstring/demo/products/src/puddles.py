"""Puddles for local runs (``duckstring pond hydrate``).

``products`` reads no Sources and rebuilds its catalogue from scratch, so it needs none.
A puddle would look like this:

    @puddle("source.table")
    def snapshot(p):
        return p.con.sql("SELECT ...")
"""
