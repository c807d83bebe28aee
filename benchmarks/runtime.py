"""Runtime figures of a real Catchment and its Ducks: Pulse and Wave timing on the demo, dispatch
overhead on generated graphs, /api/status latency, idle CPU, memory and leftover processes.

Every part starts its own Catchment (``python -m duckstring.catchment`` on a free
loopback port, in a temporary root) and stops it by its PID at the end. It prints figures; it is
not part of the test suite.

    .venv/bin/python benchmarks/runtime.py                 # everything (several minutes)
    .venv/bin/python benchmarks/runtime.py --quick         # a smaller smoke run
    .venv/bin/python benchmarks/runtime.py --only demo-pulse,chain
    .venv/bin/python benchmarks/runtime.py --skip lines

Parts: demo-pulse, idle-cpu, demo-wave (one Catchment, the demo at real durations), chain,
fan-in, layered (generated graphs of trivial Ponds whose one Ripple sleeps 50 ms, so the ideal of
a graph is 50 ms per level), lines (1,000 deployed lines of 5 Ripples). ``--quick`` runs the demo
at DUCKSTRING_DEMO_SCALE=0.1 and shrinks every graph. Each figure is printed next to its target,
and a summary of the targets ends the report; the exit code is 1 only if a part could not run.
"""

from __future__ import annotations

import argparse
import math
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any

import runtime_ponds as ponds
from runtime_common import Settings
from runtime_demo import run_demo
from runtime_graphs import run_graph, run_lines
from runtime_report import Report
from runtime_watch import load_average

from duckstring.testing import children_of, zombies

PARTS = ("demo-pulse", "idle-cpu", "demo-wave", "chain", "fan-in", "layered", "lines")
DEMO_PARTS = {"demo-pulse", "idle-cpu", "demo-wave"}


class Overtime(Exception):
    """The whole run went past its deadline."""


def settings_from(args: argparse.Namespace) -> Settings:
    quick = args.quick

    def pick(value: Any, full: Any, small: Any) -> Any:
        return value if value is not None else (small if quick else full)

    return Settings(
        quick=quick,
        demo_scale=pick(args.demo_scale, 1.0, 0.1),
        wave_seconds=pick(args.wave_seconds, 75.0, 12.0),
        idle_seconds=pick(args.idle_seconds, 30.0, 5.0),
        chain=pick(args.chain, 20, 5),
        fan_in=pick(args.fan_in, 50, 8),
        layered=pick(args.layered, 200, 30),
        layered_width=pick(args.layered_width, 20, 6),
        lines=pick(args.lines, 1000, 40),
        status_requests=pick(args.status_requests, 300, 60),
        pause=args.pause,
        deploy_threads=args.deploy_threads,
        poll=args.poll,
    )


def code_version() -> str:
    """The commit the Catchment runs, and whether src/ differs from it."""
    here = Path(__file__).resolve().parents[1]
    try:
        commit = subprocess.run(
            ["git", "log", "-1", "--format=%h %s"],
            cwd=here,
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout.strip()
        changed = subprocess.run(
            ["git", "status", "--porcelain", "--", "src"],
            cwd=here,
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout.splitlines()
    except (OSError, subprocess.SubprocessError):
        return "unknown (no git)"
    dirty = f" + uncommitted changes in {len(changed)} files under src/" if changed else ""
    return f"{commit[:90]}{dirty}"


#: How far the machine's speed may move during a run before the report says its figures are
#: not comparable with each other (slowest CPU reference / fastest).
SPEED_DRIFT = 1.25


def cpu_reference() -> float:
    """How fast this machine runs Python right now, in seconds of CPU for 2,000,000 additions
    (best of 3): shared machines vary several-fold within a day, and every figure here moves
    with it."""
    best = math.inf
    for _ in range(3):
        started = time.process_time()
        total = 0
        for number in range(2_000_000):
            total += number
        best = min(best, time.process_time() - started)
    return best


def describe_reference(seconds: float) -> str:
    return f"2,000,000 Python additions in {seconds * 1000:.0f} ms of CPU (best of 3)"


def check_speed(report: Report, references: list[tuple[str, float]]) -> None:
    """List the machine's speed through the run, and say so when it moved: a part measured
    while it ran slower is not comparable with one measured at full speed."""
    report.section("Machine speed through the run")
    for when, seconds in references:
        report.line(f"CPU reference {when}", describe_reference(seconds))
    fastest = min(references, key=lambda item: item[1])
    slowest = max(references, key=lambda item: item[1])
    if slowest[1] > fastest[1] * SPEED_DRIFT:
        report.problem(
            f"the machine's speed changed during the run: the CPU reference was "
            f"{fastest[1] * 1000:.0f} ms {fastest[0]} and {slowest[1] * 1000:.0f} ms "
            f"{slowest[0]}; figures measured while it ran slower are not comparable"
        )


def parse_parts(text: str | None) -> set[str]:
    if not text:
        return set()
    parts = {p.strip() for p in text.split(",") if p.strip()}
    unknown = parts - set(PARTS)
    if unknown:
        raise SystemExit(f"unknown parts {sorted(unknown)}; choose from {', '.join(PARTS)}")
    return parts


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="shrink everything for a smoke run")
    parser.add_argument("--only", help=f"comma-separated parts to run: {', '.join(PARTS)}")
    parser.add_argument("--skip", help="comma-separated parts to leave out")
    parser.add_argument("--demo-scale", type=float, help="DUCKSTRING_DEMO_SCALE (default 1)")
    parser.add_argument("--wave-seconds", type=float, help="how long the Wave runs (75)")
    parser.add_argument("--idle-seconds", type=float, help="idle CPU window (30)")
    parser.add_argument("--chain", type=int, help="Ponds in the chain (20)")
    parser.add_argument("--fan-in", type=int, help="Inlets of the fan-in (50)")
    parser.add_argument("--layered", type=int, help="Ponds of the layered graph (200)")
    parser.add_argument("--layered-width", type=int, help="Ponds per layer (20)")
    parser.add_argument("--lines", type=int, help="lines of 5 Ripples for /api/status (1000)")
    parser.add_argument("--status-requests", type=int, help="/api/status requests timed (300)")
    parser.add_argument("--pause", type=float, default=0.05, help="trivial Ripple seconds")
    parser.add_argument("--deploy-threads", type=int, default=4, help="concurrent deploys")
    parser.add_argument(
        "--poll",
        type=float,
        default=0.02,
        help="seconds between /api/status requests during a generated graph's Pulse (0.02)",
    )
    parser.add_argument("--deadline", type=float, help="give up after this many seconds")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    args = parser.parse_args()
    if args.poll < 0:
        parser.error(f"--poll must be 0 or more seconds, not {args.poll:g}")
    settings = settings_from(args)
    parts = parse_parts(args.only) or set(PARTS)
    parts -= parse_parts(args.skip)
    deadline = args.deadline or (600.0 if settings.quick else 3600.0)

    def overtime(signum: int, frame: object) -> None:
        raise Overtime(f"the benchmark ran past its deadline of {deadline:g} s")

    def terminated(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGALRM, overtime)
    signal.signal(signal.SIGTERM, terminated)
    signal.alarm(math.ceil(deadline))

    report = Report()
    began = time.monotonic()
    baseline_zombies = set(zombies())
    mode = "quick" if settings.quick else "full"
    chosen = ", ".join(p for p in PARTS if p in parts)
    print(f"Duckstring runtime benchmark ({mode}): {chosen}")
    print(
        f"machine: {len(os.sched_getaffinity(0))} CPUs, Python {sys.version.split()[0]}, "
        f"load average {load_average()}"
    )
    references = [("at the start", cpu_reference())]
    print(f"CPU reference: {describe_reference(references[0][1])}")
    print(f"code: {code_version()}")
    scratch = Path(tempfile.mkdtemp(prefix="duckstring-runtime-"))
    runs: list[tuple[str, Any]] = []
    if parts & DEMO_PARTS:
        runs.append(("demo", lambda: run_demo(report, settings, scratch / "demo", parts)))
    graphs = {
        "chain": (ponds.chain(settings.chain), False),
        "fan-in": (ponds.fan_in(settings.fan_in), True),
        "layered": (ponds.layered(settings.layered, settings.layered_width), False),
    }
    for part, (graph, memory) in graphs.items():
        if part in parts:
            runs.append(
                (
                    part,
                    lambda part=part, graph=graph, memory=memory: run_graph(
                        report, settings, scratch / part, graph, part=part, memory=memory
                    ),
                )
            )
    if "lines" in parts:
        runs.append(("lines", lambda: run_lines(report, settings, scratch / "lines")))
    code = 0
    try:
        for name, run in runs:
            try:
                run()
            except Exception as error:  # the other parts still run
                traceback.print_exc()
                report.problem(f"part {name} stopped: {type(error).__name__}: {error}")
                code = 1
            references.append((f"after {name}", cpu_reference()))
    except (Overtime, KeyboardInterrupt) as error:
        report.problem(f"the benchmark stopped early: {type(error).__name__}: {error}")
        code = 1
    finally:
        signal.alarm(0)
        report.section("Leftover processes")
        ours = zombies(children_of(os.getpid()))
        report.figure("zombies among the benchmark's own processes", str(len(ours)), "0", not ours)
        elsewhere = sorted(set(zombies()) - baseline_zombies - set(ours))
        report.line(
            "new zombies elsewhere on the machine (other sessions share it)", str(len(elsewhere))
        )
        if args.keep:
            report.note(f"kept {scratch}")
        else:
            shutil.rmtree(scratch, ignore_errors=True)
    check_speed(report, references)
    report.summary()
    print(f"\ntook {time.monotonic() - began:.0f} s, load average {load_average()}")
    return code


if __name__ == "__main__":
    sys.exit(main())
