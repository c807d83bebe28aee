"""Engine throughput: events per second on a large layered graph, and the cost of one event as
the graph grows. Prints figures; it is not part of the test suite.

    .venv/bin/python benchmarks/engine.py [--ponds 1000] [--hours 1]
"""

from __future__ import annotations

import argparse
import random
import time

from duckstring.engine.sim import Simulation

#: Five Ripples per Pond: a small diamond with a tail.
RIPPLES = {
    "load": [],
    "clean": ["load"],
    "enrich": ["load"],
    "join": ["clean", "enrich"],
    "publish": ["join"],
}


def layered(sim: Simulation, ponds: int, width: int, seed: int) -> list[str]:
    """Deploy ``ponds`` Ponds in layers of ``width``; each reads 1–3 Ponds of the layer above.
    Returns the Outlets."""
    rng = random.Random(seed)
    layers: list[list[str]] = []
    count = 0
    while count < ponds:
        size = min(width, ponds - count)
        layer = [f"p{count + i}" for i in range(size)]
        above = layers[-1] if layers else []
        for name in layer:
            sources = rng.sample(above, k=min(len(above), rng.randint(1, 3))) if above else []
            sim.deploy(name, RIPPLES, sources=sources)
        layers.append(layer)
        count += size
    fed = {e.source for p in sim.engine.ponds.values() for e in p.sources}
    return [name for name in sim.engine.ponds if name not in fed]


def simulate(
    ponds: int, width: int, seconds: float, seed: int = 1
) -> tuple[int, float, Simulation]:
    sim = Simulation(
        default_duration=lambda p, r, rng: rng.uniform(0.2, 2.0), seed=seed, keep_timeline=False
    )
    outlets = layered(sim, ponds, width, seed)
    for outlet in outlets:
        sim.wave(outlet)
    engine = sim.engine
    before = engine.events
    started = time.perf_counter()
    sim.run_for(seconds)
    elapsed = time.perf_counter() - started
    return engine.events - before, elapsed, sim


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--ponds", type=int, default=1000)
    parser.add_argument("--hours", type=float, default=1.0)
    args = parser.parse_args()

    events, elapsed, sim = simulate(args.ponds, 50, args.hours * 3600)
    completed = sum(sim.completed.values())
    print(
        f"layered graph: {args.ponds} Ponds x 5 Ripples, Wave on every Outlet, "
        f"{args.hours:g} h simulated"
    )
    print(
        f"  events processed: {events:,} in {elapsed:.1f} s wall "
        f"-> {events / elapsed:,.0f} events/s (simulated Ducks included)"
    )
    print(f"  Pond Runs completed: {completed:,}")

    costs = {}
    for size in (100, 10_000):
        # Same depth (20 layers) so each event touches a comparable neighbourhood.
        events, elapsed, _ = simulate(size, max(1, size // 20), 120)
        costs[size] = elapsed / events
        print(f"  {size:>6} Ponds: {events:,} events, {costs[size] * 1e6:.1f} us per event")
    print(f"  cost ratio 10,000 / 100 Ponds: {costs[10_000] / costs[100]:.2f} (target <= 2)")


if __name__ == "__main__":
    main()
