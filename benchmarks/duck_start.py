"""What starting a Duck costs: a fork from the Catchment's pre-loaded forkserver, against a
fresh interpreter importing DuckDB and the worker. Prints figures; not a test.

    .venv/bin/python benchmarks/duck_start.py [--runs 20]
"""

from __future__ import annotations

import argparse
import multiprocessing
import statistics
import subprocess
import sys
import time
from multiprocessing import forkserver

from duckstring.catchment.forkserver import PRELOAD


def _ready(started: float, queue: multiprocessing.Queue[float]) -> None:
    import duckstring.duck.worker  # noqa: F401 - already loaded in the forkserver: free

    queue.put(time.perf_counter() - started)


def forked(runs: int) -> list[float]:
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(PRELOAD)
    forkserver.ensure_running()
    queue: multiprocessing.Queue[float] = context.Queue()
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        process = context.Process(target=_ready, args=(started, queue))
        process.start()
        times.append(queue.get(timeout=30))
        process.join()
    return times


def fresh(runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", "import duckdb, duckstring.duck.worker"], check=True)
        times.append(time.perf_counter() - started)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    fork_times, fresh_times = forked(args.runs), fresh(args.runs)
    fork_ms = statistics.median(fork_times) * 1000
    fresh_ms = statistics.median(fresh_times) * 1000
    print(f"Duck start, median of {args.runs}:")
    print(f"  fork from the pre-loaded forkserver: {fork_ms:7.1f} ms")
    print(f"  fresh interpreter + DuckDB import:   {fresh_ms:7.1f} ms")
    print(f"  saved per Duck start: {fresh_ms - fork_ms:.1f} ms ({fresh_ms / fork_ms:.0f}x)")


if __name__ == "__main__":
    main()
