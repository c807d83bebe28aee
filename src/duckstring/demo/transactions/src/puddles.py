"""Puddles for local runs (``duckstring pond hydrate``).

``transactions`` reads no Sources; its self-puddle is the prior state a local run starts from:
two months of history, so every ``pond run`` appends the same next day.
"""

from batches import FIRST_DAY, sales_batch_sql

from duckstring import puddle


@puddle("transactions.transactions")
def history(p):
    return p.con.sql(sales_batch_sql(1, FIRST_DAY, days=59))
