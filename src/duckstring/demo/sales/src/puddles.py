"""Puddles for local runs (``duckstring pond hydrate``): small, realistic Source snapshots."""

from duckstring import puddle


@puddle("transactions.transactions")
def transactions(p):
    """Two weeks of sales, 40 a day, over the catalogue's 20 products."""
    return p.con.sql(
        """
        SELECT
            range + 1 AS transaction_id,
            TIMESTAMP '2024-03-01 08:00:00'
                + INTERVAL (range // 40) DAY
                + INTERVAL (CAST(hash(range, 'time') % 43200 AS BIGINT)) SECOND AS sold_at,
            CAST(1 + hash(range, 'product') % 20 AS INTEGER) AS product_id,
            CAST(1 + hash(range, 'quantity') % 5 AS INTEGER) AS quantity,
            ['north', 'south', 'east', 'west'][CAST(1 + hash(range, 'store') % 4 AS BIGINT)]
                AS store
        FROM range(14 * 40)
        """
    )


@puddle("products")
def products(p):
    """A whole-Source puddle: it names each table it writes. A snapshot of the catalogue."""
    p.write_table(
        "products",
        p.con.sql(
            """
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
            """
        ),
    )
