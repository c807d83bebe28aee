"""Generated graphs of trivial Ponds (two Pulses each), and /api/status with many lines."""

from __future__ import annotations

import math
import time
from collections import Counter
from pathlib import Path

import httpx
import runtime_figures as fig
import runtime_ponds as ponds
from runtime_common import Settings, catchment
from runtime_report import Report, mib, ms, ratio, sec
from runtime_server import CatchmentProcess, tree_cpu_seconds
from runtime_watch import (
    DuckWatcher,
    MemorySampler,
    get_status,
    history,
    load_average,
    ponds_by_id,
    post,
    status_document,
    topology,
    wait_settled,
    watch_run,
)

from duckstring.testing import wait_until, zombies


def status_latencies(client: httpx.Client, count: int) -> tuple[list[float], int]:
    """``count`` sequential /api/status requests: latencies and error answers."""
    latencies, errors = [], 0
    for _ in range(count):
        sample = get_status(client)
        latencies.append(sample.latency)
        errors += sample.document is None
    return latencies, errors


def run_graph(
    report: Report,
    settings: Settings,
    workdir: Path,
    graph: ponds.Graph,
    *,
    part: str,
    memory: bool = False,
) -> None:
    with catchment(report, workdir) as server, server.client() as client:
        report.section(f"Generated graph: {graph.name}, two Pulses on {graph.target}")
        report.line("machine load average", load_average())
        projects = ponds.write_graph(workdir / "projects", graph, pause=settings.pause)
        clock = time.perf_counter()
        latencies = ponds.deploy_all(
            f"{server.url}/api", projects, graph, threads=settings.deploy_threads
        )
        report.line(
            f"deployed {len(projects)} Ponds through POST /api/deploy",
            f"{time.perf_counter() - clock:.1f} s (p50 {ms(fig.median(latencies))} each, "
            f"{settings.deploy_threads} clients)",
        )
        idle, _ = status_latencies(client, 30)
        report.line(
            "/api/status before the Pulses",
            f"p50 {ms(fig.median(idle))}  p99 {ms(fig.percentile(idle, 99))}",
        )
        levels = graph.levels()
        report.note(
            f"each Pond is one Ripple that sleeps {settings.pause * 1000:g} ms, reads its Sources "
            f"and writes one row; {levels} Ponds on the longest path, so the ideal is "
            f"≈ {levels * settings.pause:.2f} s"
        )
        for number in (1, 2):
            pulse(report, settings, server, client, graph, number, part=part, memory=memory)
        wait_until(lambda: not server.duck_pids(), 60, poll=0.1)


def pulse(
    report: Report,
    settings: Settings,
    server: CatchmentProcess,
    client: httpx.Client,
    graph: ponds.Graph,
    number: int,
    *,
    part: str,
    memory: bool,
) -> None:
    levels = graph.levels()
    target = f"{graph.target}@1"
    lineage = {f"{name}@1" for name in graph.lineage(graph.target)}
    document = status_document(client)
    sources, ripple_edges = topology(document)
    before = {r.key for r in history(client, ripples=False)}
    completed = ponds_by_id(document)[target]["runs_completed"]
    sampler = MemorySampler(server, interval=0.1) if memory else None
    ducks = DuckWatcher(server, interval=0.1)
    for thread in (sampler, ducks):
        if thread is not None:
            thread.start()
    cpu_before = tree_cpu_seconds(server.pid)
    watching = time.process_time()
    started = time.time()
    try:
        post(client, f"/ponds/{graph.target}/pulse")
        watch = watch_run(
            client,
            target,
            completed,
            timeout=120 + 2 * len(lineage),
            poll=settings.poll,
            lineage=lineage,
            read_every=settings.read_every,
        )
    finally:
        if sampler is not None:
            sampler.stop()
    watching = time.process_time() - watching
    report.line(f"-- Pulse {number}")
    if watch.stalled or watch.queued:
        report.problem(
            f"Pulse {number} stalled: nothing changed for 90 s; running with no Ripple running: "
            f"{watch.stalled[:10]}, {watch.queued} lines queued behind them"
        )
    elif not watch.settled:
        report.problem(f"Pulse {number} did not settle; failed lines: {watch.failed[:10]}")
    wait_settled(client, 5 if watch.stalled else 60)
    cpu_after = tree_cpu_seconds(server.pid)
    ducks.stop()
    runs = [r for r in history(client) if r.key not in before]
    statuses = Counter(r.status for r in runs)
    every_succeeded = (
        watch.settled and statuses.get("success", 0) == len(lineage) and len(runs) == len(lineage)
    )
    report.figure(
        f"runs: {len(runs)} for {len(lineage)} Ponds",
        ", ".join(f"{n} {s}" for s, n in statuses.items()) or "none",
        "all succeed",
        every_succeeded,
    )
    for run in [r for r in runs if r.status != "success"][:5]:
        report.problem(f"Pulse {number}: {run.line} run {run.seq} {run.status}: {run.error}")
    report.line("Duck processes started", str(ducks.total()))
    catchment_cpu = cpu_after[0] - cpu_before[0]
    ducks_cpu = (cpu_after[1] - cpu_before[1]) - catchment_cpu
    report.line(
        "CPU used: Catchment, Ducks (per run)",
        f"{sec(catchment_cpu)}, {sec(ducks_cpu)} "
        f"({ms(catchment_cpu / max(1, len(runs)))}, {ms(ducks_cpu / max(1, len(runs)))})",
    )
    report.line(
        "CPU used by this benchmark while it watched (status, Ducks"
        + (", memory)" if sampler is not None else ")"),
        sec(watching),
    )
    target_run = next((r for r in runs if r.line == target and r.status == "success"), None)
    if target_run is not None and target_run.finished is not None:
        end_to_end = target_run.finished - started
        latest = {r.line: r for r in sorted(runs, key=lambda r: r.seq) if r.status == "success"}
        longest, _ = fig.critical_path(latest, sources, ripple_edges)
        overhead = (end_to_end - longest) / levels
        report.line("end-to-end: Pulse request → last Pond's run finished", sec(end_to_end))
        report.line(
            f"sum of measured Ripple durations on the longest path ({levels} Ponds)", sec(longest)
        )
        if part == "chain":
            report.figure("overhead per level", ms(overhead), "< 25 ms", overhead < 0.025)
        else:
            report.line("overhead per level", ms(overhead))
            report.figure(
                "end-to-end / ideal (measured longest path)",
                ratio(end_to_end / longest),
                "≤ 2",
                end_to_end / longest <= 2,
            )
        report.line("end-to-end / nominal ideal", ratio(end_to_end / (levels * settings.pause)))
    firsts = fig.start_to_first_ripple(runs)
    report.line(
        "run start → first Ripple",
        f"p50 {ms(fig.median(firsts))}  p99 {ms(fig.percentile(firsts, 99))}  "
        f"max {ms(max(firsts, default=math.nan))}",
    )
    hops = [g.hop for g in fig.source_to_sink_gaps(runs, sources) if g.hop is not None]
    report.line(
        "last Source Ripple end → first Sink Ripple start",
        f"p50 {ms(fig.median(hops))}  p99 {ms(fig.percentile(hops, 99))}",
    )
    status_p99 = fig.percentile(watch.latencies, 99)
    label = (
        f"/api/status p99 during the Pulse ({len(watch.latencies)} requests, "
        f"{settings.poll * 1000:g} ms apart)"
    )
    if part == "layered":
        report.figure(label, ms(status_p99), "< 50 ms", status_p99 < 0.050)
    else:
        report.line(label, ms(status_p99))
    report.line("  p50", ms(fig.median(watch.latencies)))
    if watch.errors:
        report.problem(f"/api/status failed {len(watch.errors)} times: {watch.errors[0]}")
    if sampler is not None:
        memory_lines(report, sampler)
    stuck = zombies(server.descendants())
    report.figure("zombies under the Catchment after the Pulse", str(len(stuck)), "0", not stuck)


def memory_lines(report: Report, sampler: MemorySampler) -> None:
    report.figure(
        f"peak memory of all processes, sum of PSS ({sampler.peak_processes} processes)",
        mib(sampler.peak_pss),
        "< 1024 MiB",
        sampler.peak_pss < 1024 * 1024,
    )
    report.line(
        f"  the same as a sum of RSS ({sampler.samples} samples, ≥ {sampler.interval:g} s apart "
        f"and within {sampler.budget:.0%} of a core: {sec(sampler.cpu)} of CPU)",
        mib(sampler.peak_rss),
    )
    ducks = [v for k, v in sampler.per_process.items() if k.startswith("duck ")]
    for label, (rss, pss) in sorted(sampler.per_process.items()):
        if not label.startswith("duck "):
            report.line(f"  {label}, peak", f"RSS {mib(rss)}  PSS {mib(pss)}")
    if ducks:
        duck_rss = [d[0] for d in ducks]
        duck_pss = [d[1] for d in ducks]
        report.line(
            f"  each of {len(ducks)} Ducks, peak: median / max",
            f"RSS {mib(fig.median(duck_rss))} / {mib(max(duck_rss))}  "
            f"PSS {mib(fig.median(duck_pss))} / {mib(max(duck_pss))}",
        )


def run_lines(report: Report, settings: Settings, workdir: Path) -> None:
    graph = ponds.five_ripple_lines(settings.lines)
    with catchment(report, workdir) as server, server.client() as client:
        report.section(f"/api/status with {settings.lines} deployed lines of 5 Ripples")
        report.line("machine load average", load_average())
        projects = ponds.write_five_ripple_graph(workdir / "projects", graph)
        clock = time.perf_counter()
        latencies = ponds.deploy_all(
            f"{server.url}/api", projects, graph, threads=settings.deploy_threads
        )
        took = time.perf_counter() - clock
        report.line(
            f"deployed {len(projects)} Ponds (layers of 50, 1–3 Sources each) "
            f"with {settings.deploy_threads} clients",
            f"{took:.1f} s, {len(projects) / took:.1f} per s",
        )
        report.line(
            "  each POST /api/deploy",
            f"p50 {ms(fig.median(latencies))}  p99 {ms(fig.percentile(latencies, 99))}  "
            f"max {ms(max(latencies))}",
        )
        status_latencies(client, 10)
        samples, errors = status_latencies(client, settings.status_requests)
        answer = client.get("/status")
        size = len(answer.content) / 1e6
        report.line(
            f"{len(answer.json()['ponds'])} lines in the document, {size:.2f} MB",
            f"{len(samples)} sequential requests, {errors} errors",
        )
        report.line("/api/status p50", ms(fig.median(samples)))
        p99 = fig.percentile(samples, 99)
        report.figure("/api/status p99", ms(p99), "< 50 ms", p99 < 0.050)
