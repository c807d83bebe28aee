"""What a scrape of ``GET /metrics`` costs a real Catchment with 1,000 deployed lines of 5
Ripples: the CPU time the server process spends per scrape (its own user + system time before
and after a run of sequential scrapes), first before any line has run, then after a Pulse on
every Outlet has run every line once (so every line has its histograms and its freshness).
Then, on the same graph, what ``why`` and a forecast of the deepest lines take to answer.

    .venv/bin/python benchmarks/metrics.py                 # 1,000 lines (a few minutes)
    .venv/bin/python benchmarks/metrics.py --lines 100 --scrapes 20
    .venv/bin/python benchmarks/metrics.py --no-run        # deployed lines only
    .venv/bin/python benchmarks/metrics.py --spy /tmp/scrape.svg   # py-spy the scrapes

The Catchment is started on a free loopback port in a temporary root and stopped by its PID.
It prints figures; it is not part of the test suite.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
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


def explanations(
    report: Report, server: CatchmentProcess, client: httpx.Client, deepest: list[str]
) -> None:
    """``why`` and ``forecast`` of the deepest lines: latency and the server's CPU per call."""
    for path, label, rounds in (("why", "why", 5), ("forecast", "forecast", 1)):
        latencies = []
        began = own_cpu(server)
        for _ in range(rounds):
            for name in deepest:
                clock = time.perf_counter()
                client.get(f"/api/ponds/{name}/{path}").raise_for_status()
                latencies.append(time.perf_counter() - clock)
        per_call = (own_cpu(server) - began) / len(latencies)
        report.line(
            f"{label} of the {len(deepest)} deepest lines, {len(latencies)} calls",
            f"latency p50 {ms(fig.median(latencies))} p99 {ms(fig.percentile(latencies, 99))}"
            f"  CPU {ms(per_call)} per call",
        )


def scrapes(
    report: Report,
    server: CatchmentProcess,
    client: httpx.Client,
    count: int,
    label: str,
    spy: Path | None = None,
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
    spying = None
    if spy is not None:
        spying = subprocess.Popen(
            ["py-spy", "record", "-p", str(server.pid), "-o", str(spy), "-r", "200"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(1.0)
    began = own_cpu(server)
    wall = time.perf_counter()
    latencies = [scrape(client)[0] for _ in range(count)]
    wall = time.perf_counter() - wall
    if spying is not None:
        spying.send_signal(2)
        spying.wait(30)
    per_scrape = (own_cpu(server) - began) / count
    report.line(
        f"{label}: {count} sequential scrapes",
        f"CPU {ms(per_scrape)} per scrape (idle server: {ms(idle * wall / count)} of it); "
        f"latency p50 {ms(fig.median(latencies))} p99 {ms(fig.percentile(latencies, 99))}",
    )
    return per_scrape


def run(
    report: Report, workdir: Path, lines: int, count: int, run_lines: bool, spy: Path | None
) -> None:
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
            per_scrape = scrapes(report, server, metrics, count, "every line ran", spy)
            report.figure(
                "CPU per scrape, every line run",
                ms(per_scrape),
                f"< {ms(TARGET_SECONDS)}",
                per_scrape < TARGET_SECONDS,
            )
            depth = {name: len(graph.lineage(name)) for name in graph.sources}
            deepest = sorted(depth, key=lambda name: (-depth[name], name))[:20]
            explanations(report, server, metrics, deepest)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=1000, help="lines of 5 Ripples (1000)")
    parser.add_argument("--scrapes", type=int, default=100, help="sequential scrapes (100)")
    parser.add_argument("--no-run", action="store_true", help="do not run the lines")
    parser.add_argument("--spy", type=Path, help="py-spy the sequential scrapes into this SVG")
    args = parser.parse_args()
    report = Report()
    scratch = Path(tempfile.mkdtemp(prefix="duckstring-metrics-"))
    try:
        run(report, scratch / "metrics", args.lines, args.scrapes, not args.no_run, args.spy)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    report.summary()
    return 1 if report.problems else 0


if __name__ == "__main__":
    sys.exit(main())
