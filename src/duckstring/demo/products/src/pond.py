"""Inlet ``products``: the product catalogue.

Module level has no side effects: Duckstring imports this file to read the Ripples.
"""

import os
import time

from duckstring import ripple

CATALOGUE = """
    SELECT
        CAST(product_id AS INTEGER) AS product_id,
        name,
        category,
        CAST(price AS DECIMAL(10, 2)) AS price
    FROM (VALUES
        (1, 'Espresso beans 1 kg', 'coffee', 24.50),
        (2, 'Filter coffee 500 g', 'coffee', 11.90),
        (3, 'Decaf beans 500 g', 'coffee', 13.40),
        (4, 'Cold brew concentrate', 'coffee', 8.75),
        (5, 'Green tea, 20 bags', 'tea', 4.20),
        (6, 'Earl Grey loose leaf', 'tea', 9.80),
        (7, 'Chai spice blend', 'tea', 6.50),
        (8, 'Matcha powder 100 g', 'tea', 27.00),
        (9, 'Butter croissant', 'bakery', 2.40),
        (10, 'Sourdough loaf', 'bakery', 5.60),
        (11, 'Cinnamon roll', 'bakery', 3.10),
        (12, 'Almond biscotti, 6', 'bakery', 4.90),
        (13, 'Ceramic mug', 'equipment', 12.00),
        (14, 'Pour-over dripper', 'equipment', 22.00),
        (15, 'Burr grinder', 'equipment', 149.00),
        (16, 'Espresso machine', 'equipment', 489.00),
        (17, 'Milk frothing jug', 'equipment', 16.50),
        (18, 'Oat milk 1 l', 'dairy', 2.95),
        (19, 'Whole milk 1 l', 'dairy', 1.45),
        (20, 'Gift card', 'gifts', 50.00)
    ) AS catalogue(product_id, name, category, price)
    ORDER BY product_id
"""


def pause(seconds: float) -> None:
    """Stand-in for real work: the documented duration times ``DUCKSTRING_DEMO_SCALE``."""
    time.sleep(seconds * float(os.environ.get("DUCKSTRING_DEMO_SCALE", "1")))


@ripple
def ingest(pond):
    """Load the catalogue (2 s)."""
    pause(2)
    pond.write_table("products", pond.con.sql(CATALOGUE))
