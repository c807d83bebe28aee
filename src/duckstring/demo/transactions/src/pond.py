"""Inlet ``transactions``: each run appends one synthetic day of sales to its own output.

Module level has no side effects: Duckstring imports this file to read the Ripples.
"""

import os
import time
from datetime import timedelta

from batches import FIRST_DAY, sales_batch_sql

from duckstring import ripple


def pause(seconds: float) -> None:
    """Stand-in for real work: the documented duration times ``DUCKSTRING_DEMO_SCALE``."""
    time.sleep(seconds * float(os.environ.get("DUCKSTRING_DEMO_SCALE", "1")))


@ripple
def ingest(pond):
    """Append the day after the last one already ingested (1 s)."""
    pause(1)
    if pond.has_table("transactions"):
        previous = pond.read_table("transactions")
        latest = previous.aggregate("max(transaction_id), max(sold_at)")
        [(last_id, last_sold)] = latest.fetchall()
    else:
        previous, last_id, last_sold = None, None, None
    first_id = 1 if last_id is None else last_id + 1
    day = FIRST_DAY if last_sold is None else last_sold.date() + timedelta(days=1)
    batch = pond.con.sql(sales_batch_sql(first_id, day))
    pond.write_table("transactions", batch if previous is None else previous.union(batch))
