"""The status document of ``GET /api/status``, built from the engine's live state.

It is built as plain dicts (the shape of :class:`~duckstring.catchment.models.Status`, which
documents it): validating thousands of nested models on every refresh cost more than building
them.
"""

from __future__ import annotations

from typing import Any

from duckstring.catchment.store.db import Deployment
from duckstring.engine.clock import Micros, iso
from duckstring.engine.core import Engine
from duckstring.engine.pond import PondNode


def _ripple_states(p: PondNode) -> list[dict[str, Any]]:
    states = []
    for node in p.ripples.order:
        if node.busy:
            status = "running"
        elif node.targets or node.force_f is not None:
            status = "queued"
        else:
            status = "idle"
        states.append(
            {
                "name": node.name,
                "status": status,
                "has_pull": node.has_pull,
                "target_f": iso(node.targets[0]) if node.targets else None,
                "start_f": iso(node.start_f),
                "end_f": iso(node.end_f),
            }
        )
    return states


def pond_state(p: PondNode, deployment: Deployment, now: Micros) -> dict[str, Any]:
    trigger = p.trigger
    staleness = p.staleness(now)
    return {
        "id": p.id,
        "name": deployment.name,
        "major": deployment.major,
        "kind": deployment.kind,
        "version": deployment.version,
        "status": p.status,
        "gen": p.gen,
        "runs_completed": p.runs_completed,
        "has_pull": p.has_pull,
        "target_f": iso(p.targets[0]) if p.targets else None,
        "start_f": iso(p.start_f),
        "end_f": iso(p.end_f),
        "d_ms": p.d // 1000,
        "staleness_ms": None if staleness is None else staleness // 1000,
        "trigger": None
        if trigger is None
        else {
            "kind": trigger.kind,
            "bound_ms": None if trigger.bound is None else trigger.bound // 1000,
        },
        "is_failed": p.is_failed,
        "is_blocked": p.blocked,
        "is_killed": p.is_killed,
        "failed_f": iso(p.failed_f),
        "failures": p.failures,
        "immediate_retries": p.immediate_retries,
        "source_retries": p.source_retries,
        "windows": len(p.windows),
        "ripples": _ripple_states(p),
        "ripple_edges": [[a, b] for a, b in p.ripples.edges()],
    }


def status_document(engine: Engine, lines: dict[str, Deployment], now: Micros) -> dict[str, Any]:
    ponds = [pond_state(p, lines[p.id], now) for p in engine.ponds.values() if p.id in lines]
    edges = [
        [edge.source, p.id]
        for p in engine.ponds.values()
        for edge in p.sources
        if edge.source in engine.ponds
    ]
    return {"now": iso(now) or "", "ponds": ponds, "edges": edges}
