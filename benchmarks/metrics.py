"""What a scrape of ``GET /metrics`` costs a real Catchment with 1,000 deployed lines of 5
Ripples: the CPU time the server process spends per scrape (its own user + system time before
and after a run of sequential scrapes), first before any line has run, then after a Pulse on
every Outlet has run every line once (so every line has its histograms and its freshness).

    .venv/bin/python benchmarks/metrics.py                 # 1,000 lines (a few minutes)
    .venv/bin/python benchmarks/metrics.py --lines 100 --scrapes 20
    .venv/bin/python benchmarks/metrics.py --no-run        # deployed lines only

The Catchment is started on a free loopback port in a temporary root and stopped by its PID.
It prints figures; it is not part of the test suite.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

import httpx
import runtime_figures as fig
import runtime_ponds as ponds
from runtime_common import catchment
from runtime_report import Report, ms
from runtime_server import CatchmentProcess, cpu_seconds
from runtime_watch import load_average, post, wait_settled

TARGET_SECONDS = 0.020


def own_cpu(server: CatchmentProcess) -> float:
    used = cpu_seconds(server.pid)
    if used is None:
        raise RuntimeError("the Catchment exited")
    return used


def scrape(client: httpx.Client) -> tuple[float, int]:
    """One scrape: its latency and the size of its answer."""
    began = time.perf_counter()
    answer = client.get("/metrics")
    took = time.perf_counter() - began
    answer.raise_for_status()
    return took, len(answer.content)


def scrapes(
    report: Report, server: CatchmentProcess, client: httpx.Client, count: int, label: str
) -> float:
    """Report the first scrape (which renders every line that changed since the last one) and
    then ``count`` sequential ones; returns the CPU per scrape of those."""
    before = own_cpu(server)
    took, size = scrape(client)
    report.line(
        f"{label}: the first scrape (renders every line that changed)",
        f"CPU {ms(own_cpu(server) - before)}  latency {ms(took)}  {size / 1e6:.2f} MB",
    )
    # CPU time is counted in clock ticks (10 ms): the scrapes run long enough to average it.
    idle_from, wall_from = own_cpu(server), time.perf_counter()
    time.sleep(2.0)
    idle = (own_cpu(server) - idle_from) / (time.perf_counter() - wall_from)
    began = own_cpu(server)
    wall = time.perf_counter()
    latencies = [scrape(client)[0] for _ in range(count)]
    wall = time.perf_counter() - wall
    per_scrape = (own_cpu(server) - began) / count
    report.line(
        f"{label}: {count} sequential scrapes",
        f"CPU {ms(per_scrape)} per scrape (idle server: {ms(idle * wall / count)} of it); "
        f"latency p50 {ms(fig.median(latencies))} p99 {ms(fig.percentile(latencies, 99))}",
    )
    return per_scrape


def run(report: Report, workdir: Path, lines: int, count: int, run_lines: bool) -> None:
    graph = ponds.five_ripple_lines(lines)
    with catchment(report, workdir) as server, server.client(timeout=600) as client:
        report.section(f"GET /metrics with {lines} deployed lines of 5 Ripples")
        report.line("machine load average", load_average())
        projects = ponds.write_five_ripple_graph(workdir / "projects", graph)
        clock = time.perf_counter()
        ponds.deploy_all(f"{server.url}/api", projects, graph, threads=4)
        report.line(f"deployed {len(projects)} Ponds", f"{time.perf_counter() - clock:.1f} s")
        metrics = httpx.Client(base_url=server.url, timeout=60)
        with metrics:
            scrapes(report, server, metrics, count, "never run")
            if not run_lines:
                return
            clock = time.perf_counter()
            outlets = [name for name in graph.sources if graph.kind(name) == "outlet"]
            for name in outlets:
                post(client, f"/ponds/{name}/pulse")
            time.sleep(1.0)
            if not wait_settled(client, 60.0 + lines):
                report.problem("the Pulses did not settle")
            ran = sum(p["runs_completed"] > 0 for p in client.get("/status").json()["ponds"])
            report.line(
                f"a Pulse on each of {len(outlets)} Outlets",
                f"{ran} lines ran, {time.perf_counter() - clock:.1f} s",
            )
            per_scrape = scrapes(report, server, metrics, count, "every line ran")
            report.figure(
                "CPU per scrape, every line run",
                ms(per_scrape),
                f"< {ms(TARGET_SECONDS)}",
                per_scrape < TARGET_SECONDS,
            )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=1000, help="lines of 5 Ripples (1000)")
    parser.add_argument("--scrapes", type=int, default=100, help="sequential scrapes (100)")
    parser.add_argument("--no-run", action="store_true", help="do not run the lines")
    args = parser.parse_args()
    report = Report()
    scratch = Path(tempfile.mkdtemp(prefix="duckstring-metrics-"))
    try:
        run(report, scratch / "metrics", args.lines, args.scrapes, not args.no_run)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    report.summary()
    return 1 if report.problems else 0


if __name__ == "__main__":
    sys.exit(main())
