"""The demo at real durations: one Pulse, the idle Catchment, then a Wave."""

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
from runtime_server import CatchmentProcess, cpu_seconds
from runtime_watch import (
    DuckWatcher,
    MemorySampler,
    history,
    load_average,
    post,
    status_document,
    topology,
    wait_settled,
    watch_run,
)

from duckstring.local.scaffold import write_demo
from duckstring.testing import wait_until

#: At DUCKSTRING_DEMO_SCALE=1: the critical path and the bottleneck Ripple, in seconds.
DEMO_CRITICAL = 8.0
DEMO_BOTTLENECK = 3.0
DEMO_SOURCES: dict[str, list[str]] = {
    "transactions": [],
    "products": [],
    "sales": ["transactions", "products"],
    "reports": ["sales"],
}
LINES = [f"{name}@1" for name in DEMO_SOURCES]


def deploy_demo(server: CatchmentProcess, workdir: Path) -> None:
    projects = write_demo(workdir / "projects")
    graph = ponds.Graph("demo")
    for name, sources in DEMO_SOURCES.items():
        graph.add(name, sources)
    ponds.deploy_all(f"{server.url}/api", projects, graph, threads=2)


def outcomes(runs: list[fig.Run]) -> str:
    return ", ".join(f"{n} {s}" for s, n in Counter(r.status for r in runs).items()) or "none"


def run_demo(report: Report, settings: Settings, workdir: Path, parts: set[str]) -> None:
    env = {"DUCKSTRING_DEMO_SCALE": f"{settings.demo_scale:g}"}
    with catchment(report, workdir, env) as server, server.client() as client:
        deploy_demo(server, workdir)
        pulse_runs, pulse_ducks = pulse(
            report, settings, server, client, show="demo-pulse" in parts
        )
        if "idle-cpu" in parts:
            idle_cpu(report, settings, server, client)
        if "demo-wave" in parts:
            wave(report, settings, server, client, pulse_runs, pulse_ducks)


def pulse(
    report: Report,
    settings: Settings,
    server: CatchmentProcess,
    client: httpx.Client,
    *,
    show: bool,
) -> tuple[list[fig.Run], DuckWatcher]:
    scale = settings.demo_scale
    if show:
        report.section(f"Demo: one Pulse on reports (DUCKSTRING_DEMO_SCALE={scale:g})")
    else:
        report.section("Demo: a Pulse, to settle the demo before the idle measurement")
    report.line("machine load average", load_average())
    sources, ripple_edges = topology(status_document(client))
    ducks = DuckWatcher(server, interval=0.02)
    ducks.start()
    started = time.time()
    post(client, "/ponds/reports/pulse")
    watch = watch_run(client, "reports@1", 0, timeout=60 + 20 * DEMO_CRITICAL * scale, poll=0.02)
    wait_settled(client, 30)
    ducks.stop()
    runs = history(client)
    if not watch.settled:
        report.problem(
            f"the Pulse did not settle (failed: {watch.failed}, stalled: {watch.stalled})"
        )
        return runs, ducks
    latest = {r.line: r for r in sorted(runs, key=lambda r: r.seq)}
    finished = latest["reports@1"].finished
    assert finished is not None
    end_to_end = finished - started
    critical, path = fig.critical_path(latest, sources, ripple_edges)
    report.line("runs", outcomes(runs))
    if not show:
        return runs, ducks
    report.line("end-to-end: Pulse request → reports run finished", sec(end_to_end))
    report.line(
        "  seen by the client polling /api/status every 20 ms", sec(watch.seen_at - started)
    )
    report.line(
        "critical path of the measured Ripple durations",
        f"{sec(critical)}  ({' → '.join(p.split('@')[0] for p in path)})",
    )
    report.line("critical path of the documented durations", sec(DEMO_CRITICAL * scale))
    report.figure(
        "Pulse end-to-end / critical path",
        ratio(end_to_end / critical),
        "≤ 1.03",
        end_to_end / critical <= 1.03,
    )
    report.line(
        "Pulse end-to-end / documented critical path",
        ratio(end_to_end / (DEMO_CRITICAL * scale)),
    )
    report.line("Duck processes started for the Pulse", str(ducks.total()))
    for run in sorted(runs, key=lambda r: r.started or 0):
        first = run.first_ripple_start()
        wait = math.nan if first is None or run.started is None else first - run.started
        durations = ", ".join(f"{k} {v:.3f} s" for k, v in run.ripple_durations().items())
        report.line(f"  {run.pond}: run start → first Ripple {ms(wait)}", durations)
    for gap in fig.source_to_sink_gaps(runs, sources):
        report.line(
            f"  {gap.sink.split('@')[0]}: Sources finished → run started",
            f"{ms(gap.ready)} (Catchment stamps); last Source Ripple end → first Ripple "
            f"start {ms(gap.hop if gap.hop is not None else math.nan)}",
        )
    return runs, ducks


#: How long the Catchment keeps an idle Duck warm (its default DUCKSTRING_DUCK_LINGER).
LINGER = 60.0


def idle_cpu(
    report: Report, settings: Settings, server: CatchmentProcess, client: httpx.Client
) -> None:
    report.section(f"Idle Catchment CPU over {settings.idle_seconds:g} s (after a settled Pulse)")
    wait_settled(client, 30)
    # Idle Ducks stay warm DUCKSTRING_DUCK_LINGER seconds (60 by default), then stop.
    clock = time.monotonic()
    if not wait_until(lambda: not server.duck_pids(), LINGER + 30, poll=0.1):
        report.problem(
            f"Ducks still running {LINGER + 30:g} s after the Pulse settled: {server.duck_pids()}"
        )
    report.line("idle Ducks stopped after lingering", f"{time.monotonic() - clock:.1f} s")
    time.sleep(1.0)  # let the last requests and exits pass
    report.line("machine load average", load_average())
    helpers = server.descendants()
    before = cpu_seconds(server.pid) or 0.0
    before_helpers = sum(cpu_seconds(pid) or 0.0 for pid in helpers)
    clock = time.monotonic()
    time.sleep(settings.idle_seconds)
    elapsed = time.monotonic() - clock
    after = cpu_seconds(server.pid) or 0.0
    after_helpers = sum(cpu_seconds(pid) or 0.0 for pid in helpers)
    share = (after - before) / elapsed * 100
    report.line("processes under the Catchment while idle", str(len(helpers)))
    report.line("Catchment CPU time used", f"{after - before:.2f} s in {elapsed:.1f} s")
    report.figure("Catchment CPU, % of one core", f"{share:.3f} %", "< 0.2 %", share < 0.2)
    report.line(
        "its helpers (forkserver, resource tracker), % of one core",
        f"{(after_helpers - before_helpers) / elapsed * 100:.3f} %",
    )


def wave(
    report: Report,
    settings: Settings,
    server: CatchmentProcess,
    client: httpx.Client,
    pulse_runs: list[fig.Run],
    pulse_ducks: DuckWatcher,
) -> None:
    scale = settings.demo_scale
    bottleneck = DEMO_BOTTLENECK * scale
    report.section(f"Demo: a Wave on reports for {settings.wave_seconds:g} s")
    report.line("machine load average", load_average())
    sources, _ = topology(status_document(client))
    before = {r.key for r in history(client, ripples=False)}
    memory = MemorySampler(server, interval=2.0)
    ducks = DuckWatcher(server, interval=0.02)
    ducks.start()
    started = time.time()
    post(client, "/ponds/reports/wave")
    memory.start()
    deadline = time.monotonic() + settings.wave_seconds
    try:
        while time.monotonic() < deadline:
            document = status_document(client)
            failed = [p["id"] for p in document["ponds"] if p["is_failed"]]
            if failed:
                report.problem(f"failed under the Wave: {failed}")
                break
            time.sleep(0.5)
    finally:
        stopped_at = time.time()
        post(client, "/ponds/reports/untrigger")
        memory.stop()
    if not wait_settled(client, 30 + 10 * DEMO_CRITICAL * scale):
        report.problem("the lineage did not drain after the untrigger")
    ducks.stop()
    runs = [r for r in history(client) if r.key not in before]
    report.line("runs under the Wave", outcomes(runs))
    warmup = 1.5 * DEMO_CRITICAL * scale
    report.note(
        f"cadence: gaps between distinct finish times of each Pond's runs, from {warmup:g} s "
        f"after the Wave began to its untrigger, ÷ the {bottleneck:g} s bottleneck"
    )
    worst_median = worst_p90 = -math.inf
    for line in LINES:
        finishes = [
            r.finished
            for r in runs
            if r.line == line
            and r.status == "success"
            and r.finished is not None
            and started + warmup <= r.finished <= stopped_at
        ]
        gaps = fig.cadence_gaps(finishes)
        p50 = fig.median(gaps) / bottleneck
        p90 = fig.percentile(gaps, 90) / bottleneck
        worst_median = max(worst_median, p50) if gaps else math.nan
        worst_p90 = max(worst_p90, p90) if gaps else math.nan
        spawned = len(ducks.started.get(line, []))
        report.line(
            f"  {line.split('@')[0]}: {len(gaps)} gaps, {spawned} Duck processes started",
            f"median {ratio(p50)}  p90 {ratio(p90)}",
        )
    report.figure(
        "Wave cadence median / bottleneck (worst Pond)",
        ratio(worst_median),
        "≤ 1.01",
        worst_median <= 1.01,
    )
    report.figure(
        "Wave cadence p90 / bottleneck (worst Pond)", ratio(worst_p90), "≤ 1.01", worst_p90 <= 1.01
    )
    report.line("Duck processes started during the Wave", f"{ducks.total()} for {len(runs)} runs")
    dispatch(report, sources, pulse_runs, pulse_ducks, runs, ducks)

    report.section("Demo: memory of the Catchment and of each Duck (peaks under the Wave)")
    for label, (rss, pss) in sorted(memory.per_process.items()):
        report.line(f"  {label}", f"RSS {mib(rss)}  PSS {mib(pss)}")
    report.line(
        f"peak sum over {memory.peak_processes} processes ({memory.samples} samples, every 2 s)",
        f"RSS {mib(memory.peak_rss)}  PSS {mib(memory.peak_pss)}",
    )


def dispatch(
    report: Report,
    sources: dict[str, list[str]],
    pulse_runs: list[fig.Run],
    pulse_ducks: DuckWatcher,
    wave_runs: list[fig.Run],
    wave_ducks: DuckWatcher,
) -> None:
    report.section("Demo: run start → first Ripple, and Source → Sink gaps (Pulse and Wave)")
    cold: list[float] = []
    warm: list[float] = []
    for runs, ducks in ((pulse_runs, pulse_ducks), (wave_runs, wave_ducks)):
        for run in runs:
            first = run.first_ripple_start()
            if first is None or run.started is None:
                continue
            spawned = ducks.started_near(run.line, run.started - 0.05, first + 0.05)
            (cold if spawned else warm).append(first - run.started)
    every = [*cold, *warm]
    report.note("a run is 'cold' when a new Duck process appeared between its start and its Ripple")
    for label, values in (("all runs", every), ("warm Duck", warm), ("cold: Duck started", cold)):
        report.line(
            f"run start → first Ripple, {label} ({len(values)})",
            f"p50 {ms(fig.median(values))}  p99 {ms(fig.percentile(values, 99))}  "
            f"max {ms(max(values, default=math.nan))}",
        )
    p99 = fig.percentile(every, 99)
    report.figure("run start → first Ripple, p99 of all runs", ms(p99), "< 20 ms", p99 < 0.020)
    gaps = fig.source_to_sink_gaps([*pulse_runs, *wave_runs], sources)
    ready = [g.ready for g in gaps]
    matching = [g.matching_f for g in gaps if g.matching_f is not None]
    hops = [g.hop for g in gaps if g.hop is not None]
    report.note(
        "Source → Sink gap: a Sink run's start minus the latest of the Source runs it consumed "
        "finishing and its own previous run finishing"
    )
    for label, values in (
        ("Catchment stamps (run finished → run started)", ready),
        ("  only the Source run of matching freshness f", matching),
        ("Duck stamps (last Ripple end → first Ripple start)", hops),
    ):
        report.line(
            f"{label} ({len(values)})",
            f"p50 {ms(fig.median(values))}  p99 {ms(fig.percentile(values, 99))}",
        )
    report.note(
        "the Catchment stamps a Source's end and its Sink's start in the same transaction, so "
        "the first line is ~0 by construction; the Duck-stamped line holds the real hop (export, "
        "report, dispatch, Duck start)"
    )
