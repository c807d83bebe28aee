"""Soak: a Wave on a 50-Pond graph for 10 minutes, the Catchment SIGKILLed every 2 minutes and
started again. Prints runs completed, runs lost (must be 0), Ripples re-run after restarts, and
the server's memory at start and end. Not a test. ``--stop term`` stops it gracefully instead
(SIGTERM): its Ducks with work in flight go on, and the next server adopts them.

    .venv/bin/python benchmarks/soak.py [--minutes 10] [--kill-every 120] [--ponds 50]
        [--stop kill|term]
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from runtime_ponds import deploy_all, layered, write_graph
from runtime_server import CatchmentProcess

from duckstring.testing import children_of, still_running


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def history(server: CatchmentProcess, ponds: list[str]) -> list[dict[str, Any]]:
    runs: list[dict[str, Any]] = []
    with server.client() as client:
        for pond in ponds:
            answer = client.get(
                "/runs",
                params={"pond": pond, "lineage": False, "ripples": True, "limit": 1000},
            )
            runs.extend(answer.json()["runs"])
    return runs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--kill-every", type=float, default=120.0)
    parser.add_argument("--ponds", type=int, default=50)
    parser.add_argument("--stop", choices=["kill", "term"], default="kill")
    args = parser.parse_args()
    stop_signal = signal.SIGKILL if args.stop == "kill" else signal.SIGTERM

    workdir = Path(tempfile.mkdtemp(prefix="duckstring-soak-"))
    graph = layered(args.ponds, width=10)
    projects = write_graph(workdir / "projects", graph, pause=0.2)
    server = CatchmentProcess(workdir / "catchment")
    (workdir / "catchment").mkdir()
    server.start()
    started = time.monotonic()
    kills = 0
    try:
        deploy_all(f"{server.url}/api", projects, graph)
        with server.client() as client:
            client.post(f"/ponds/{graph.target}/wave")
        memory_start = rss_mib(server.pid)
        end = started + args.minutes * 60
        next_kill = time.monotonic() + args.kill_every
        while time.monotonic() < end:
            time.sleep(min(1.0, max(0.0, end - time.monotonic())))
            if time.monotonic() >= next_kill and time.monotonic() < end - 10:
                server.descendants()  # noted, to be checked when the soak ends
                began = time.monotonic()
                os.kill(server.pid, stop_signal)
                assert server.process is not None
                server.process.wait(timeout=30)
                kills += 1
                print(
                    f"  {time.monotonic() - started:6.0f} s: Catchment "
                    f"{signal.Signals(stop_signal).name}ed, exited in "
                    f"{time.monotonic() - began:.2f} s, restarting"
                )
                server.start()
                print(f"    serving again {time.monotonic() - began:.2f} s after the signal")
                next_kill = time.monotonic() + args.kill_every
        memory_end = rss_mib(server.pid)
        with server.client() as client:
            client.post(f"/ponds/{graph.target}/untrigger")
            deadline = time.monotonic() + 300
            while time.monotonic() < deadline:
                ponds = client.get("/status").json()["ponds"]
                if all(p["status"] in ("idle", "failed", "blocked") for p in ponds):
                    break
                time.sleep(0.5)
        runs = history(server, list(graph.sources))
        # Idle now: the Ducks the earlier servers left go within their linger (a minute),
        # and their forkservers and resource trackers after them.
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and len(still_running(server.family)) > len(
            children_of(server.pid)
        ):
            time.sleep(1.0)
        current = children_of(server.pid)
        old_left = [pid for pid in still_running(server.family) if pid not in current]
    finally:
        left = server.shut_down()

    by_line: dict[str, list[dict[str, Any]]] = {}
    for run in runs:
        by_line.setdefault(run["id"], []).append(run)
    completed = sum(1 for r in runs if r["status"] == "success")
    failed = [r for r in runs if r["status"] == "failed"]
    unfinished = [r for r in runs if r["status"] == "running"]
    gaps = 0
    for line_runs in by_line.values():
        seqs = sorted(r["seq"] for r in line_runs)
        gaps += (seqs[-1] - seqs[0] + 1 - len(seqs)) if seqs else 0
    reruns = sum(
        1
        for r in runs
        for attempt in r["ripples"] or []
        if attempt["retry"] > 0 or attempt["status"] != "success"
    )
    print(
        f"Soak: Wave on {args.ponds} Ponds for {args.minutes:g} min, "
        f"{kills} {signal.Signals(stop_signal).name}s of the Catchment"
    )
    print(f"  runs completed                          {completed}")
    print(f"  runs lost (never finished, or missing)  {len(unfinished) + gaps}   target 0")
    print(f"  runs failed                             {len(failed)}")
    for run in failed[:5]:
        print(f"    {run['id']} seq {run['seq']}: {run['error']}")
    print(f"  Ripple attempts re-run after restarts   {reruns}")
    print(
        f"  server RSS at start / end               {memory_start:.0f} MiB / {memory_end:.0f} MiB"
    )
    print(f"  processes of earlier servers left 90 s after the drain  {len(old_left)}")
    print(f"  processes left after the last stop      {len(left)}")
    print(f"  (workdir {workdir})")


if __name__ == "__main__":
    main()
