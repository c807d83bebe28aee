"""Pond projects for the runtime benchmark: trivial one-Ripple Ponds in generated graphs, Ponds
of five Ripples, and deploying them through the HTTP API."""

from __future__ import annotations

import random
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from duckstring.pond.archive import zip_project

#: One Ripple: sleep a fixed time, then write ``out`` (1 + the largest ``n`` of its Sources).
TRIVIAL = '''"""A trivial benchmark Pond: one Ripple of a fixed {pause_ms} ms."""

import time

from duckstring import ripple

SOURCES = {sources!r}


@ripple
def step(pond):
    time.sleep({pause!r})
    n = 1
    for source in SOURCES:
        n = max(n, 1 + pond.read_table(source + ".out").aggregate("max(n)").fetchall()[0][0])
    pond.write_table("out", pond.con.sql(f"SELECT CAST({{n}} AS BIGINT) AS n"))
'''

#: Five Ripples: a small diamond with a tail (deployed, never run).
FIVE_RIPPLES = '''"""A benchmark Pond of five Ripples."""

from duckstring import ripple


@ripple
def load(pond):
    pond.write_table("load", pond.con.sql("SELECT 1 AS n"))


@ripple(parents=[load])
def clean(pond):
    pond.write_table("clean", pond.read_table("load"))


@ripple(parents=[load])
def enrich(pond):
    pond.write_table("enrich", pond.read_table("load"))


@ripple(parents=[clean, enrich])
def join(pond):
    pond.write_table("joined", pond.read_table("clean"))


@ripple(parents=[join])
def publish(pond):
    pond.write_table("publish", pond.read_table("joined"))
'''


@dataclass
class Graph:
    """Ponds by name with their Sources, in an order where every Source comes first."""

    name: str
    sources: dict[str, list[str]] = field(default_factory=dict)
    target: str = ""

    def add(self, name: str, sources: list[str]) -> None:
        self.sources[name] = sources
        self.target = name

    def sinks(self) -> dict[str, list[str]]:
        found: dict[str, list[str]] = {name: [] for name in self.sources}
        for name, sources in self.sources.items():
            for source in sources:
                found[source].append(name)
        return found

    def kind(self, name: str) -> str:
        if not self.sources[name]:
            return "inlet"
        return "pond" if self.sinks()[name] else "outlet"

    def levels(self) -> int:
        """Ponds on the longest path."""
        depth: dict[str, int] = {}
        for name, sources in self.sources.items():
            depth[name] = 1 + max((depth[s] for s in sources), default=0)
        return max(depth.values())

    def lineage(self, name: str) -> set[str]:
        found, frontier = {name}, [name]
        while frontier:
            for source in self.sources[frontier.pop()]:
                if source not in found:
                    found.add(source)
                    frontier.append(source)
        return found


def chain(length: int) -> Graph:
    graph = Graph(f"chain of {length}")
    previous: list[str] = []
    for i in range(length):
        graph.add(f"c{i:03d}", previous)
        previous = [f"c{i:03d}"]
    return graph


def fan_in(inlets: int) -> Graph:
    graph = Graph(f"fan-in of {inlets} Inlets")
    names = [f"i{i:03d}" for i in range(inlets)]
    for name in names:
        graph.add(name, [])
    graph.add("hub", names)
    return graph


def layered(total: int, width: int, seed: int = 7) -> Graph:
    """``total`` Ponds in layers of ``width``; each reads 1–3 Ponds of the layer above and every
    Pond is read by the next layer, so the last Pond (which reads the whole layer above it) has
    every other Pond in its lineage."""
    rng = random.Random(seed)
    sizes = []
    remaining = total - 1
    while remaining > 0:
        sizes.append(min(width, remaining))
        remaining -= sizes[-1]
    layers = len(sizes) + 1
    graph = Graph(f"{total} Ponds in {layers} layers")
    above: list[str] = []
    count = 0
    for size in sizes:
        layer = [f"l{count + i:04d}" for i in range(size)]
        reads: dict[str, set[str]] = {name: set() for name in layer}
        if above:
            for source in above:  # every Pond of the layer above has a Sink
                reads[rng.choice(layer)].add(source)
            for name in layer:
                wanted = rng.randint(1, 3)
                while len(reads[name]) < min(wanted, len(above)):
                    reads[name].add(rng.choice(above))
        for name in layer:
            graph.add(name, sorted(reads[name]))
        above = layer
        count += size
    graph.add("top", above)
    return graph


def five_ripple_lines(count: int, width: int = 50, seed: int = 11) -> Graph:
    """``count`` Ponds in layers of ``width``, each reading 1–3 Ponds of the layer above."""
    rng = random.Random(seed)
    graph = Graph(f"{count} lines of 5 Ripples")
    above: list[str] = []
    made = 0
    while made < count:
        layer = [f"f{made + i:04d}" for i in range(min(width, count - made))]
        for name in layer:
            picked = rng.sample(above, k=min(len(above), rng.randint(1, 3))) if above else []
            graph.add(name, sorted(picked))
        above = layer
        made += len(layer)
    return graph


# -- projects ---------------------------------------------------------------------------------


def write_project(
    parent: Path, name: str, kind: str, sources: list[str], body: str, version: str = "1.0.0"
) -> Path:
    project = parent / name
    (project / "src").mkdir(parents=True)
    manifest = ["[pond]", f'name = "{name}"', f'version = "{version}"', f'type = "{kind}"']
    if sources:
        manifest += ["", "[sources]", *(f'{source} = "1.0.0"' for source in sources)]
    (project / "pond.toml").write_text("\n".join(manifest) + "\n")
    (project / "src" / "pond.py").write_text(body)
    return project


def write_graph(parent: Path, graph: Graph, *, pause: float = 0.05) -> list[Path]:
    """One trivial project per Pond, in deploy order."""
    return [
        write_project(
            parent,
            name,
            graph.kind(name),
            sources,
            TRIVIAL.format(sources=sources, pause=pause, pause_ms=round(pause * 1000)),
        )
        for name, sources in graph.sources.items()
    ]


def write_five_ripple_graph(parent: Path, graph: Graph) -> list[Path]:
    return [
        write_project(parent, name, graph.kind(name), sources, FIVE_RIPPLES)
        for name, sources in graph.sources.items()
    ]


# -- deploying --------------------------------------------------------------------------------


class DeployError(RuntimeError):
    pass


def deploy(client: httpx.Client, project: Path) -> float:
    """``POST /api/deploy`` of the project's zip; the seconds it took."""
    archive = zip_project(project)
    started = time.perf_counter()
    answer = client.post(
        "/deploy", files={"pond": (f"{project.name}.zip", archive, "application/zip")}
    )
    took = time.perf_counter() - started
    if answer.status_code != 200:
        raise DeployError(
            f"deploying {project.name}: HTTP {answer.status_code} {answer.text[:500]}"
        )
    return took


def deploy_all(
    base_url: str,
    projects: list[Path],
    graph: Graph,
    *,
    threads: int = 4,
    timeout: float = 120.0,
) -> list[float]:
    """Deploy every project, ``threads`` at a time, a Pond only after its Sources are in.

    Returns each deploy's latency (seconds)."""
    by_name = {p.name: p for p in projects}
    done: set[str] = set()
    latencies: list[float] = []
    client = httpx.Client(
        base_url=base_url, timeout=timeout, limits=httpx.Limits(max_connections=threads)
    )
    try:
        with ThreadPoolExecutor(max_workers=threads) as pool:
            pending = list(graph.sources)
            while pending:
                ready = [n for n in pending if all(s in done for s in graph.sources[n])]
                if not ready:
                    raise DeployError("the graph has a Pond whose Sources never deploy")
                # Every Pond whose Sources are in goes at once; the pool bounds the concurrency.
                futures = {name: pool.submit(deploy, client, by_name[name]) for name in ready}
                for name, future in futures.items():
                    latencies.append(future.result())
                    done.add(name)
                pending = [n for n in pending if n not in done]
    finally:
        client.close()
    return latencies
