"""Synthetic point-of-sale data, shared by the Ripple and the self-puddle.

Everything is derived from transaction ids with DuckDB's deterministic ``hash``, so the same
state always produces the same next batch.
"""

from datetime import date

#: Sales in one day's batch.
BATCH_SIZE = 120
#: The first day of trading when there is no history yet.
FIRST_DAY = date(2024, 1, 1)
#: Product ids match the ``products`` Inlet's catalogue.
PRODUCT_COUNT = 20


def sales_batch_sql(first_id: int, first_day: date, days: int = 1) -> str:
    """SQL for ``days`` days of sales from ``first_day``, ids counting up from ``first_id``."""
    count = BATCH_SIZE * days
    return f"""
        SELECT
            id AS transaction_id,
            DATE '{first_day.isoformat()}'
                + INTERVAL (n // {BATCH_SIZE}) DAY
                + INTERVAL 8 HOUR
                + INTERVAL (CAST(hash(id, 'time') % 43200 AS BIGINT)) SECOND AS sold_at,
            CAST(1 + hash(id, 'product') % {PRODUCT_COUNT} AS INTEGER) AS product_id,
            CAST(1 + hash(id, 'quantity') % 5 AS INTEGER) AS quantity,
            ['north', 'south', 'east', 'west'][CAST(1 + hash(id, 'store') % 4 AS BIGINT)] AS store
        FROM (SELECT range AS n, {first_id} + range AS id FROM range({count}))
        ORDER BY transaction_id
    """
