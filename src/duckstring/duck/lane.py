"""Where a Duck's Pond Runs end: one at a time, in the order they were decided.

A completed run is reported only after its export (every table of the line, atomically, to the
published Parquet), and a failure decided meanwhile waits behind the exports queued before it,
so the Catchment hears of runs in the order their freshness was reached. Each ending comes back
to the coordinator, which writes it to the ledger with its event.
"""

from __future__ import annotations

import traceback
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

import duckdb

from duckstring.duck.records import RunsEnded, one_line
from duckstring.pond.export import export_tables, list_tables


class Lane:
    """One thread that publishes and hands back run endings in order.

    ``deliver`` is called on the lane's thread with each ending (the coordinator queues it).
    ``pending`` counts endings not yet handed back; only the coordinator touches it.
    """

    def __init__(
        self,
        con: duckdb.DuckDBPyConnection,
        data_dir: Path,
        deliver: Callable[[RunsEnded], None],
        *,
        warm: bool = True,
    ) -> None:
        self.con = con
        self.data_dir = data_dir
        self.deliver = deliver
        self.pending = 0
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="lane")
        # The thread starts now, not between a run's last Ripple and its report. With
        # ``warm``, it first lists the tables: a new DuckDB instance binds its catalog
        # functions on first use (~15 ms). One the forkserver prepared did that before the
        # fork (duckstring.duck.registry), and a Duck forked from it skips the listing.
        self._thread.submit(self._warm if warm else _nothing)

    def complete(self, ending: RunsEnded) -> None:
        """Export, then hand back ``ending`` (or, if the export fails, a failed one)."""
        self.pending += 1
        self._thread.submit(self._publish, ending)

    def fail(self, ending: RunsEnded) -> None:
        """Hand back a failed ending once every export queued before it is done."""
        self.pending += 1
        self._thread.submit(self.deliver, ending)

    def ended(self) -> None:
        """The coordinator took an ending back."""
        self.pending -= 1

    def close(self, *, wait: bool) -> None:
        self._thread.shutdown(wait=wait, cancel_futures=True)

    def _warm(self) -> None:
        cursor = self.con.cursor()
        try:
            list_tables(cursor)
        finally:
            cursor.close()

    def _publish(self, ending: RunsEnded) -> None:
        try:
            export_tables(self.con, self.data_dir)
        except BaseException as error:
            ending = replace(
                ending,
                error=f"export failed: {one_line(error)}",
                traceback="".join(traceback.format_exception(error)),
            )
        self.deliver(ending)


def _nothing() -> None:
    pass
