"""Pond ``sales``: sale lines priced from the catalogue, from ``transactions`` and ``products``.

``daily_sales`` and ``price_tiers`` run in parallel and feed ``join_lines``, the bottleneck.
Module level has no side effects: Duckstring imports this file to read the Ripples.
"""

import os
import time

from duckstring import ripple


def pause(seconds: float) -> None:
    """Stand-in for real work: the documented duration times ``DUCKSTRING_DEMO_SCALE``."""
    time.sleep(seconds * float(os.environ.get("DUCKSTRING_DEMO_SCALE", "1")))


@ripple
def daily_sales(pond):
    """Units sold per product per day (2 s)."""
    pause(2)
    transactions = pond.read_table("transactions.transactions")
    pond.write_table(
        "daily_sales",
        transactions.aggregate(
            "CAST(sold_at AS DATE) AS sale_date, product_id, "
            "CAST(sum(quantity) AS INTEGER) AS units, count(*) AS transactions",
            "CAST(sold_at AS DATE), product_id",
        ).order("sale_date, product_id"),
    )


@ripple
def price_tiers(pond):
    """Each product with its price tier (1 s)."""
    pause(1)
    products = pond.read_table("products.products")
    pond.write_table(
        "price_tiers",
        products.project(
            "product_id, name, category, price, "
            "CASE WHEN price < 5 THEN 'budget' WHEN price < 25 THEN 'standard' "
            "ELSE 'premium' END AS tier"
        ).order("product_id"),
    )


@ripple(parents=[daily_sales, price_tiers])
def join_lines(pond):
    """One priced sale line per product per day (3 s)."""
    pause(3)
    lines = pond.con.sql(
        """
        SELECT
            d.sale_date,
            d.product_id,
            p.name AS product_name,
            p.category,
            p.tier,
            d.units,
            d.transactions,
            p.price AS unit_price,
            CAST(d.units * p.price AS DECIMAL(12, 2)) AS amount
        FROM daily_sales AS d
        JOIN price_tiers AS p USING (product_id)
        ORDER BY d.sale_date, d.product_id
        """
    )
    pond.write_table("sale_line", lines)
