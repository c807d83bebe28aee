"""Puddles for local runs (``duckstring pond hydrate``): small, realistic Source snapshots."""

from duckstring import puddle


@puddle("sales.sale_line")
def sale_line(p):
    """Three months of daily sale lines over ten products."""
    return p.con.sql(
        """
        WITH products(product_id, product_name, category, tier, unit_price) AS (
            VALUES
                (1, 'Espresso beans 1 kg', 'coffee', 'standard', 24.50),
                (2, 'Filter coffee 500 g', 'coffee', 'standard', 11.90),
                (5, 'Green tea, 20 bags', 'tea', 'budget', 4.20),
                (8, 'Matcha powder 100 g', 'tea', 'premium', 27.00),
                (9, 'Butter croissant', 'bakery', 'budget', 2.40),
                (10, 'Sourdough loaf', 'bakery', 'standard', 5.60),
                (13, 'Ceramic mug', 'equipment', 'standard', 12.00),
                (15, 'Burr grinder', 'equipment', 'premium', 149.00),
                (18, 'Oat milk 1 l', 'dairy', 'budget', 2.95),
                (20, 'Gift card', 'gifts', 'premium', 50.00)
        ),
        days AS (
            SELECT CAST(day AS DATE) AS sale_date
            FROM range(DATE '2024-01-01', DATE '2024-04-01', INTERVAL 1 DAY) AS t(day)
        ),
        lines AS (
            SELECT
                sale_date,
                CAST(product_id AS INTEGER) AS product_id,
                product_name,
                category,
                tier,
                CAST(1 + hash(sale_date, product_id) % 12 AS INTEGER) AS units,
                CAST(1 + hash(product_id, sale_date) % 6 AS BIGINT) AS transactions,
                CAST(unit_price AS DECIMAL(10, 2)) AS unit_price
            FROM days CROSS JOIN products
        )
        SELECT *, CAST(units * unit_price AS DECIMAL(12, 2)) AS amount
        FROM lines
        ORDER BY sale_date, product_id
        """
    )
