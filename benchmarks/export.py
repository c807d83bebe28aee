"""Export throughput of a 10-million-row table, as a ratio to DuckDB's own COPY.

Runs, in one process and on one table, DuckDB's ``COPY t TO '...' (FORMAT parquet)`` and
Duckstring's atomic :func:`~duckstring.pond.export.export_tables` (COPY to a temporary name,
fsync, rename), interleaved, and prints the median of each and the throughput ratio
(export rows/s divided by COPY rows/s; 1.0 means no overhead). Target: at least 0.9.

    python benchmarks/export.py [--rows 10000000] [--repeat 5] [--dir /path/on/the/real/disk]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import duckdb

from duckstring.pond.export import export_tables, sql_string


def build_table(con: duckdb.DuckDBPyConnection, rows: int) -> None:
    """A sale-line-like table: ids, a timestamp, a low-cardinality text, numbers."""
    con.execute(
        f"""
        CREATE TABLE sale_line AS
        SELECT
            range AS line_id,
            TIMESTAMP '2024-01-01' + to_seconds(range // 10) AS sold_at,
            range % 997 AS product_id,
            'category_' || (range % 23) AS category,
            1 + range % 7 AS quantity,
            round(random() * 100, 2) AS amount
        FROM range({rows})
        """
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--dir", type=Path, default=None, help="where to write the files")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(dir=args.dir) as scratch:
        folder = Path(scratch)
        con = duckdb.connect(str(folder / "registry.duckdb"))
        print(f"building a {args.rows:,}-row table ...", flush=True)
        build_table(con, args.rows)
        baseline_dir, export_dir = folder / "copy", folder / "export"
        baseline_dir.mkdir()
        copy_times: list[float] = []
        export_times: list[float] = []
        for attempt in range(args.repeat + 1):
            target = baseline_dir / "sale_line.parquet"
            target.unlink(missing_ok=True)
            started = time.perf_counter()
            con.execute(f"COPY sale_line TO {sql_string(str(target))} (FORMAT parquet)")
            copy_seconds = time.perf_counter() - started

            started = time.perf_counter()
            exported = export_tables(con, export_dir)
            export_seconds = time.perf_counter() - started
            assert exported[0].rows == args.rows

            if attempt == 0:
                continue  # warm-up: first touch of the table and the page cache
            copy_times.append(copy_seconds)
            export_times.append(export_seconds)
            print(f"  run {attempt}: COPY {copy_seconds:.3f} s, export {export_seconds:.3f} s")
        con.close()
        size = (export_dir / "sale_line.parquet").stat().st_size

    copy_median = statistics.median(copy_times)
    export_median = statistics.median(export_times)
    print(f"file size: {size / 1e6:.1f} MB")
    for label, seconds in (("DuckDB COPY", copy_median), ("Duckstring export", export_median)):
        print(f"{label + ':':<19}{seconds:.3f} s  ({args.rows / seconds / 1e6:.2f} M rows/s)")
    print(f"throughput ratio (export / COPY): {copy_median / export_median:.3f}  (target >= 0.9)")


if __name__ == "__main__":
    main()
