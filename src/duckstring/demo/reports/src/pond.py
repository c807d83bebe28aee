"""Outlet ``reports``: a monthly summary of the priced sale lines of ``sales``.

Module level has no side effects: Duckstring imports this file to read the Ripples.
"""

import os
import time

from duckstring import ripple


def pause(seconds: float) -> None:
    """Stand-in for real work: the documented duration times ``DUCKSTRING_DEMO_SCALE``."""
    time.sleep(seconds * float(os.environ.get("DUCKSTRING_DEMO_SCALE", "1")))


@ripple
def monthly_summary(pond):
    """Units, revenue and best seller per month and category (1 s)."""
    pause(1)
    sale_line = pond.read_table("sales.sale_line")
    summary = sale_line.query(
        "sale_line",
        """
        SELECT
            CAST(date_trunc('month', sale_date) AS DATE) AS month,
            category,
            CAST(sum(units) AS BIGINT) AS units,
            CAST(sum(amount) AS DECIMAL(14, 2)) AS revenue,
            count(DISTINCT sale_date) AS trading_days,
            arg_max(product_name, amount) AS best_seller
        FROM sale_line
        GROUP BY ALL
        ORDER BY month, revenue DESC
        """,
    )
    pond.write_table("monthly_summary", summary)
