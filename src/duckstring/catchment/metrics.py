"""``GET /metrics``: the Catchment in Prometheus's text format, written by ``prometheus_client``.

One :class:`CatchmentMetrics` per app (never the process's default registry: a process may
run several apps, as the tests do). A scrape reads everything it shows at that moment: the
engine's state of every line (:mod:`duckstring.catchment.line_metrics`), the fleet's Ducks, the
duration histograms the driver observes (:mod:`duckstring.catchment.timings`) and the request
latencies the app's outermost middleware observes (:mod:`duckstring.catchment.request_timer`).

It reads the engine and the fleet on the event loop (a copy of what changed: ~1 ms for a
thousand lines) and renders on a worker thread, one scrape at a time, so a scrape never holds
the loop, and so dispatch, for longer than that copy.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

from prometheus_client import CONTENT_TYPE_PLAIN_0_0_4, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily

from duckstring.catchment.driver import Driver
from duckstring.catchment.fleet import Phase
from duckstring.catchment.launcher import Node
from duckstring.catchment.line_metrics import LineMetrics, LineSnapshot, render
from duckstring.catchment.request_timer import RequestLatency
from duckstring.catchment.timings import RunTimings

#: What a scrape answers with: Prometheus's text format, version 0.0.4.
CONTENT_TYPE = CONTENT_TYPE_PLAIN_0_0_4
#: Bytes per chunk of a scrape's answer: small enough to be allocated from the heap (a
#: single buffer of the whole document, megabytes at 1,000 lines, costs fresh pages each time).
CHUNK = 128 * 1024


@dataclass(frozen=True, slots=True)
class FleetSnapshot:
    """What one scrape read of the fleet, on the event loop."""

    phases: Counter[str]
    spares: int
    #: line -> its memory (PSS) as the fleet measured it while the Duck idled, if it did.
    idle_pss: dict[str, int]
    #: Reads the resident memory of the Ducks of these lines (safe off the loop).
    resident: Callable[[], dict[str, int | None]]
    #: line -> the cluster node its Duck runs on (absent: on this machine, or not placed yet).
    nodes: dict[str, Node]

    @classmethod
    def of(cls, driver: Driver) -> FleetSnapshot:
        ducks = driver.fleet.policy.ducks
        launcher = driver.fleet.launcher
        lines = tuple(ducks)
        return cls(
            phases=Counter(duck.phase.value for duck in ducks.values()),
            spares=launcher.spares_waiting(),
            idle_pss={
                line: duck.size
                for line, duck in ducks.items()
                if duck.phase is Phase.IDLE and duck.size is not None
            },
            resident=lambda: launcher.resident(lines),
            nodes={line: node for line in lines if (node := launcher.node_of(line)) is not None},
        )

    def render(self) -> bytes:
        ducks = GaugeMetricFamily(
            "duckstring_ducks",
            "Ducks the Catchment holds, by phase (starting, loading, warm, idle, stopping, "
            "killed, adopting).",
            labels=("phase",),
        )
        for phase in Phase:
            ducks.add_metric([phase.value], self.phases.get(phase.value, 0))
        spares = GaugeMetricFamily(
            "duckstring_duck_spares", "Spare Ducks waiting, started, to be given a line."
        )
        spares.add_metric([], self.spares)
        resident = GaugeMetricFamily(
            "duckstring_duck_resident_bytes",
            "Memory resident in each line's Duck now (RSS: pages shared with other Ducks "
            "counted in each).",
            labels=("line",),
        )
        for line, size in sorted(self.resident().items()):
            if size is not None:
                resident.add_metric([line], size)
        idle = GaugeMetricFamily(
            "duckstring_duck_idle_pss_bytes",
            "Memory of each idle Duck as the fleet measured it when it went idle (PSS: shared "
            "pages split between the processes sharing them).",
            labels=("line",),
        )
        for line, size in sorted(self.idle_pss.items()):
            idle.add_metric([line], size)
        node = GaugeMetricFamily(
            "duckstring_duck_node",
            "Where each line's Duck runs on the cluster (1 per Duck, by node id and address; "
            "none for Ducks on the Catchment's own machine).",
            labels=("line", "node", "address"),
        )
        for line, where in sorted(self.nodes.items()):
            node.add_metric([line, where.id, where.address], 1)
        return render([ducks, spares, resident, idle, node])


class CatchmentMetrics:
    """The metrics of one Catchment: its timings, its request latencies, and its scrape."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.timings = RunTimings()
        self.requests = RequestLatency(self.registry)
        self.lines = LineMetrics(self.timings)
        self._scraping = asyncio.Lock()

    async def scrape(self, driver: Driver) -> list[bytes]:
        """The whole document, as of now (on the event loop; renders on a worker thread)."""
        async with self._scraping:
            lines = self.lines.snapshot(driver.engine, driver.lines, driver.clock.now())
            fleet = FleetSnapshot.of(driver)
            return await asyncio.to_thread(self._render, lines, fleet)

    def _render(self, lines: LineSnapshot, fleet: FleetSnapshot) -> list[bytes]:
        """The document in chunks of about :data:`CHUNK` bytes (joined from its parts)."""
        parts = [*lines.parts(), fleet.render(), generate_latest(self.registry)]
        chunks: list[bytes] = []
        start, size = 0, 0
        for index, part in enumerate(parts):
            size += len(part)
            if size >= CHUNK:
                chunks.append(b"".join(parts[start : index + 1]))
                start, size = index + 1, 0
        if start < len(parts):
            chunks.append(b"".join(parts[start:]))
        return chunks
