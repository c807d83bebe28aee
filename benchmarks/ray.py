"""Ducks on Ray against Ducks forked here, in one run: a Pulse on the demo and on a fan-in of
50 Inlets, each twice (cold: every Duck starts; warm: the Ducks wait, idle), with the local
launcher and with the Ray launcher on a ``ray.cluster_utils.Cluster`` of this machine (a head
of 0 CPUs and two nodes of one CPU). Prints figures; not a test.

    .venv/bin/python benchmarks/ray.py [--inlets 50] [--scale 0.2] [--actors 20]

Figures, per launcher and graph: end to end (first run started to last run finished), Duck
start cost (a cold run's start to its first Ripple's start, p50/p99: the Duck's start and its
first command), and hop gaps (a Sink's first Ripple start after its last Source's last Ripple
finished, p50/p99). Then a Ray actor's own start time on this machine (create an empty actor,
call it; p50/p99), the yardstick of the target "first Duck start within 2x of a Ray actor's start".
Targets: warm hop gaps under 25 ms on Ray too; first Duck start within 2x of an actor's start.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

# This file is ray.py: the Ray package must win the import, and the benchmarks' own modules
# beside it are found after it.
HERE = str(Path(__file__).resolve().parent)
sys.path[:] = [p for p in sys.path if p not in (HERE, "")]
import ray  # noqa: E402
from ray.cluster_utils import Cluster  # noqa: E402

sys.path.append(HERE)
import runtime_figures as fig  # noqa: E402
import runtime_ponds as ponds  # noqa: E402

from duckstring.testing import Server, wait_until  # noqa: E402

os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def runs_since(server: Server, since: float) -> list[fig.Run]:
    with server.client() as client:
        document = client.get("/runs", params={"limit": 1000, "ripples": True}).json()
    return [r for r in fig.parse_runs(document) if r.started is not None and r.started >= since]


def pulse(server: Server, target: str) -> list[fig.Run]:
    """One Pulse on ``target``, to settled; its runs."""
    since = time.time() - 0.001
    server.cli("trigger", "pulse", target, "--silent", timeout=600)
    with server.client() as client:
        wait_until(
            lambda: all(p["status"] != "running" for p in client.get("/status").json()["ponds"]),
            120,
        )
    return runs_since(server, since)


def figures(runs: list[fig.Run], sources: dict[str, list[str]]) -> dict[str, Any]:
    started = [r.started for r in runs if r.started is not None]
    finished = [r.finished for r in runs if r.finished is not None]
    starts = [
        first - r.started
        for r in runs
        if r.started is not None and (first := r.first_ripple_start()) is not None
    ]
    by_pond = {r.pond: r for r in runs}
    gaps = []
    for run in runs:
        # As the Ducks saw it: the last Source Ripple's end to this run's first Ripple's start.
        upstream = [by_pond[s] for s in sources.get(run.pond, []) if s in by_pond]
        ends = [end for u in upstream if (end := u.last_ripple_finish()) is not None]
        first = run.first_ripple_start()
        if ends and first is not None:
            gaps.append(first - max(ends))
    return {
        "runs": len(runs),
        "failed": sum(r.status != "success" for r in runs),
        "end_to_end": (max(finished) - min(started)) if started and finished else float("nan"),
        "start": starts,
        "gaps": gaps,
    }


def show(label: str, found: dict[str, Any]) -> None:
    starts, gaps = found["start"], found["gaps"]
    parts = [
        f"{found['runs']} runs ({found['failed']} failed)",
        f"end to end {found['end_to_end']:.2f} s",
    ]
    if starts:
        parts.append(
            f"run start to first Ripple p50 {ms(fig.median(starts))} "
            f"p99 {ms(fig.percentile(starts, 99))}"
        )
    if gaps:
        parts.append(f"hop gaps p50 {ms(fig.median(gaps))} p99 {ms(fig.percentile(gaps, 99))}")
    print(f"  {label:<28} " + " · ".join(parts), flush=True)


def demo_projects(server: Server, workdir: Path) -> tuple[str, dict[str, list[str]]]:
    projects = workdir / "demo"
    projects.mkdir()
    server.cli("pond", "demo", cwd=projects)
    server.cli("pond", "deploy", "--all", "-y", cwd=projects)
    sources = {
        "sales": ["transactions", "products"],
        "reports": ["sales"],
        "transactions": [],
        "products": [],
    }
    return "reports", sources


def fan_in_projects(server: Server, workdir: Path, inlets: int) -> tuple[str, dict[str, list[str]]]:
    graph = ponds.fan_in(inlets)
    projects = ponds.write_graph(workdir / "fan-in", graph, pause=0.05)
    ponds.deploy_all(f"{server.url}/api", projects, graph, threads=4)
    return graph.target, graph.sources


def bench_launcher(label: str, env: dict[str, str], args: argparse.Namespace) -> dict[str, Any]:
    results: dict[str, Any] = {}
    for graph in ("demo", "fan-in"):
        with tempfile.TemporaryDirectory(prefix="ds-ray-bench-") as tmp:
            workdir = Path(tmp)
            server = Server(
                root=workdir / "root",
                home=workdir / "home",
                env={"DUCKSTRING_DEMO_SCALE": str(args.scale), **env},
            )
            server.start(timeout=120)
            try:
                server.connect_cli()
                if graph == "demo":
                    target, sources = demo_projects(server, workdir)
                else:
                    target, sources = fan_in_projects(server, workdir, args.inlets)
                for temperature in ("cold", "warm"):
                    found = figures(pulse(server, target), sources)
                    show(f"{label} {graph} {temperature}", found)
                    results[(graph, temperature)] = found
            finally:
                server.close()
    return results


def actor_start_times(count: int) -> list[float]:
    @ray.remote
    class Empty:
        def ping(self) -> int:
            return 1

    times = []
    for _ in range(count):
        clock = time.perf_counter()
        actor = Empty.remote()  # type: ignore[attr-defined]
        ray.get(actor.ping.remote())
        times.append(time.perf_counter() - clock)
        ray.kill(actor)
    return times


def actors_at_once(count: int) -> float:
    """Seconds until ``count`` empty actors created at once have all answered: what the
    cluster itself takes to start a fan-in's worth of actors."""

    @ray.remote
    class Empty:
        def ping(self) -> int:
            return 1

    clock = time.perf_counter()
    made = [Empty.remote() for _ in range(count)]  # type: ignore[attr-defined]
    ray.get([actor.ping.remote() for actor in made])
    took = time.perf_counter() - clock
    for actor in made:
        ray.kill(actor)
    return took


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--inlets", type=int, default=50)
    parser.add_argument("--scale", type=float, default=0.2, help="DUCKSTRING_DEMO_SCALE")
    parser.add_argument("--actors", type=int, default=20, help="empty actors to time")
    args = parser.parse_args()

    print(f"Ray {ray.__version__} · {os.cpu_count()} CPUs · demo scale {args.scale}", flush=True)
    clock = time.perf_counter()
    cluster = Cluster(
        initialize_head=True, head_node_args={"num_cpus": 0, "include_dashboard": False}
    )
    for _ in range(2):
        cluster.add_node(num_cpus=1)
    cluster.wait_for_nodes()
    print(f"  cluster of a head and two nodes up in {time.perf_counter() - clock:.1f} s")
    try:
        bench_launcher("local", {"DUCKSTRING_LAUNCHER": "local"}, args)
        remote = bench_launcher(
            "ray",
            {"DUCKSTRING_LAUNCHER": "ray", "DUCKSTRING_RAY_ADDRESS": cluster.address},
            args,
        )
        ray.init(address=cluster.address, log_to_driver=False)
        actors = actor_start_times(args.actors)
        actor_p50 = fig.median(actors)
        print(
            f"  a Ray actor's own start (create, first call), {len(actors)} actors: "
            f"p50 {ms(actor_p50)} p99 {ms(fig.percentile(actors, 99))}"
        )
        at_once = actors_at_once(args.inlets)
        print(f"  {args.inlets} empty actors created at once: all answered in {at_once:.1f} s")
    finally:
        ray.shutdown()
        cluster.shutdown()
    print("Targets")
    for graph in ("demo", "fan-in"):
        warm = remote[(graph, "warm")]["gaps"]
        p50 = fig.median(warm) if warm else float("nan")
        verdict = "met" if p50 < 0.025 else "not met"
        print(f"  warm hop gaps on Ray, {graph}: p50 {ms(p50)} (target < 25 ms: {verdict})")
        cold = remote[(graph, "cold")]["start"]
        if graph == "demo":
            # Cold Ducks of the demo start one or two at a time: each against one actor's start.
            first = fig.median(cold) if cold else float("nan")
            ratio, yardstick = first / actor_p50, "an actor's start"
        else:
            # Fifty at once queue for the cluster's workers: the last against fifty actors'.
            first = max(cold) if cold else float("nan")
            ratio, yardstick = first / at_once, f"{args.inlets} empty actors at once"
        verdict = "met" if ratio <= 2 else "not met"
        print(
            f"  cold Duck start on Ray, {graph}: {ms(first)} = {ratio:.1f}x {yardstick} "
            f"(target ≤ 2x: {verdict})"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
