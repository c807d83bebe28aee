"""Watching a running Catchment: its status document, its run history, its Duck processes and
their memory, each sampled on its own schedule."""

from __future__ import annotations

import math
import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import runtime_figures as fig
from runtime_server import CatchmentProcess, memory_kib

from duckstring.layout import RootLayout
from duckstring.testing import wait_until

# -- the API ------------------------------------------------------------------------------------


@dataclass
class StatusSample:
    latency: float
    document: dict[str, Any] | None
    error: str | None = None


def get_status(client: httpx.Client, *, parse: bool = True) -> StatusSample:
    """``GET /api/status``, timed; an error answer is kept, not raised. Without ``parse`` the
    answer is read whole but not decoded, and its ``document`` is None."""
    started = time.perf_counter()
    try:
        answer = client.get("/status")
    except httpx.HTTPError as error:
        return StatusSample(time.perf_counter() - started, None, f"{type(error).__name__}: {error}")
    latency = time.perf_counter() - started
    if answer.status_code != 200:
        return StatusSample(latency, None, f"HTTP {answer.status_code}: {answer.text[:200]}")
    return StatusSample(latency, answer.json() if parse else None)


def status_document(client: httpx.Client, attempts: int = 20) -> dict[str, Any]:
    """A status document, retried a few times past error answers."""
    sample = get_status(client)
    for _ in range(attempts):
        if sample.document is not None:
            return sample.document
        time.sleep(0.1)
        sample = get_status(client)
    raise RuntimeError(f"/api/status keeps failing: {sample.error}")


def ponds_by_id(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {p["id"]: p for p in document["ponds"]}


def topology(document: dict[str, Any]) -> tuple[dict[str, list[str]], dict[str, list[list[str]]]]:
    """Sources of every line, and every line's Ripple edges, from a status document."""
    sources: dict[str, list[str]] = {p["id"]: [] for p in document["ponds"]}
    for source, sink in document["edges"]:
        sources.setdefault(sink, []).append(source)
    return sources, {p["id"]: p["ripple_edges"] for p in document["ponds"]}


def history(client: httpx.Client, ripples: bool = True) -> list[fig.Run]:
    params = {"limit": 1000, "ripples": "true" if ripples else "false"}
    answer = client.get("/runs", params=params)
    answer.raise_for_status()
    return fig.parse_runs(answer.json())


def post(client: httpx.Client, path: str) -> None:
    answer = client.post(path)
    if answer.status_code != 200:
        raise RuntimeError(f"POST {path}: HTTP {answer.status_code} {answer.text[:300]}")


@dataclass
class Watch:
    """What polling /api/status every ``poll`` seconds saw until the target's run ended."""

    latencies: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    settled: bool = False
    failed: list[str] = field(default_factory=list)
    seen_at: float = math.nan
    #: Nothing changed on any line for the stall time: the lines still running, none of whose
    #: Ripples runs, and how many lines were still queued.
    stalled: list[str] = field(default_factory=list)
    queued: int = 0


def watch_run(
    client: httpx.Client,
    target: str,
    completed_before: int,
    timeout: float,
    poll: float,
    lineage: set[str] | None = None,
    stall: float = 90.0,
    read_every: float = 0.0,
) -> Watch:
    """Poll /api/status until ``target`` completes one more run, a line of ``lineage`` fails,
    no line changes for ``stall`` seconds, or ``timeout`` passes.

    Every answer is timed, but only one every ``read_every`` seconds is decoded: decoding the
    document of 200 Ponds costs this process ~3 ms of CPU, twice what the Catchment spends
    answering, and every millisecond of it is taken from the Catchment and its Ducks while
    they work. When the run ended, then, is read from the run history, not from when the
    watch saw it (``seen_at``).
    """
    watch = Watch()
    deadline = time.monotonic() + timeout
    generations: dict[str, object] = {}
    changed = time.monotonic()
    read_at = 0.0
    while time.monotonic() < deadline:
        now = time.monotonic()
        sample = get_status(client, parse=now >= read_at)
        watch.latencies.append(sample.latency)
        if sample.error is not None:
            watch.errors.append(sample.error)
        elif sample.document is not None:
            read_at = now + read_every
            states = ponds_by_id(sample.document)
            # What moves while a line works: runs started and completed, states, Ripples.
            now_generations = {
                line: (
                    p["gen"],
                    p["runs_completed"],
                    p["status"],
                    tuple((r["status"], r["gen"], r["runs_completed"]) for r in p["ripples"]),
                )
                for line, p in states.items()
            }
            if now_generations != generations:
                generations, changed = now_generations, time.monotonic()
            elif time.monotonic() - changed > stall:
                watch.stalled = [
                    line
                    for line, p in states.items()
                    if p["status"] == "running"
                    and all(r["status"] != "running" for r in p["ripples"])
                ]
                watch.queued = sum(p["status"] == "queued" for p in states.values())
                return watch
            watch.failed = [
                line
                for line, p in states.items()
                if p["is_failed"] and (lineage is None or line in lineage)
            ]
            if states[target]["runs_completed"] > completed_before:
                watch.settled = True
                watch.seen_at = time.time()
                return watch
            if watch.failed:
                return watch
        time.sleep(poll)  # between requests, so a slow answer does not make them back to back
    return watch


def wait_settled(client: httpx.Client, timeout: float) -> bool:
    """No line running or queued."""

    def settled() -> bool:
        document = get_status(client).document
        return document is not None and all(
            p["status"] not in ("running", "queued") for p in document["ponds"]
        )

    return bool(wait_until(settled, timeout, poll=0.2))


# -- processes ----------------------------------------------------------------------------------


def labelled_processes(server: CatchmentProcess) -> dict[int, str]:
    """The server and every descendant, by PID, with a label saying what it is."""
    labels = {server.pid: "server"}
    alive = server.descendants()
    ducks = server.duck_pids(alive)
    for pid in alive:
        if pid in ducks:
            labels[pid] = f"duck {ducks[pid]}"
            continue
        try:
            command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if "forkserver" in command:
            labels[pid] = "forkserver"
        elif "resource_tracker" in command:
            labels[pid] = "resource tracker"
        elif "duckstring.pond.topology" in command:
            labels[pid] = "ripple discovery"
        else:
            labels[pid] = "duck (starting)" if "multiprocessing" in command else "other"
    return labels


class Sampler(threading.Thread):
    """Calls :meth:`sample` every ``interval`` seconds until stopped (and once more at the end).

    A sample costs this process CPU that the Catchment and its Ducks would otherwise get, and
    reading /proc for fifty Ducks takes ~0.1 s of it: so the wait after each sample is also at
    least what keeps the sampler within ``budget`` of one core (its thread's CPU time over the
    sample and the wait). ``cpu`` is what its samples cost in all.
    """

    def __init__(self, interval: float, budget: float = 0.05) -> None:
        super().__init__(name=type(self).__name__, daemon=True)
        self.interval = interval
        self.budget = budget
        self.stopped = threading.Event()
        self.samples = 0
        self.cpu = 0.0

    def run(self) -> None:
        while not self.stopped.is_set():
            started = time.thread_time()
            self.sample()
            cost = time.thread_time() - started
            self.cpu += cost
            self.samples += 1
            self.stopped.wait(max(self.interval, cost / self.budget - cost))

    def sample(self) -> None:
        raise NotImplementedError

    def stop(self) -> None:
        self.stopped.set()
        self.join(timeout=10)
        self.sample()


class MemorySampler(Sampler):
    """RSS and PSS of the server and its descendants: the peak of the sums, each process's peak."""

    def __init__(self, server: CatchmentProcess, interval: float) -> None:
        super().__init__(interval)
        self.server = server
        self.peak_rss = 0
        self.peak_pss = 0
        self.peak_processes = 0
        #: label -> (rss, pss) peaks, KiB
        self.per_process: dict[str, tuple[int, int]] = {}

    def sample(self) -> None:
        total_rss = total_pss = count = 0
        for pid, label in labelled_processes(self.server).items():
            memory = memory_kib(pid)
            if memory is None:
                continue
            rss, pss = memory
            total_rss += rss
            total_pss += pss
            count += 1
            old = self.per_process.get(label, (0, 0))
            self.per_process[label] = (max(old[0], rss), max(old[1], pss))
        if total_pss > self.peak_pss:
            self.peak_pss, self.peak_rss, self.peak_processes = total_pss, total_rss, count


class DuckWatcher(Sampler):
    """Duck processes started, per line: each new Duck writes its PID into the line's
    ``duck.lock``, so a new PID there is a new Duck (two within one interval count as one)."""

    def __init__(self, server: CatchmentProcess, interval: float) -> None:
        super().__init__(interval)
        self.layout = RootLayout(server.root)
        self.known: dict[Path, str] = {}
        #: line -> [(pid, first seen, epoch seconds)]
        self.started: dict[str, list[tuple[int, float]]] = {}
        self._baseline = True
        self.sample()
        self._baseline = False

    def sample(self) -> None:
        now = time.time()
        for line, lock in self.layout.duck_locks().items():
            try:
                text = lock.read_text()
            except OSError:
                continue
            if not text or self.known.get(lock) == text:
                continue
            self.known[lock] = text
            if self._baseline:
                continue
            words = text.split()
            if len(words) == 2 and words[1].isdigit():
                self.started.setdefault(line, []).append((int(words[1]), now))

    def total(self) -> int:
        return sum(len(v) for v in self.started.values())

    def started_near(self, line: str, low: float, high: float) -> bool:
        return any(low <= at <= high for _, at in self.started.get(line, []))


def load_average() -> str:
    one, five, _ = os.getloadavg()
    return f"{one:.1f} (1 min), {five:.1f} (5 min)"
