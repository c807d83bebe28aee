"""The status document of ``GET /api/status``, built from the engine's live state.

It is built as plain dicts (the shape of :class:`~duckstring.catchment.models.Status`, which
documents it): validating thousands of nested models on every refresh cost more than building
them. :class:`StatusCache` serves it as JSON and rebuilds only the Ponds that changed: every
change of a Pond's state bumps its ``rev`` (a counter of the engine's, not on the wire), and
staleness (the one field that moves with the clock alone) is added on each request.

On the wire ``gen`` is the number of Pond Runs started on the line and ``runs_completed`` the
number completed, per Pond and per Ripple: a client computes runs in flight as their difference.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from duckstring.catchment.launcher import Node
from duckstring.catchment.store.db import Deployment
from duckstring.engine.clock import Micros, iso
from duckstring.engine.core import Engine
from duckstring.engine.pond import PondNode


def _ripple_states(p: PondNode) -> list[dict[str, Any]]:
    states = []
    for node in p.ripples.order:
        if node.busy:
            status = "running"
        elif node.has_pull or node.targets or node.force_f is not None:
            status = "queued"
        else:
            status = "idle"
        states.append(
            {
                "name": node.name,
                "status": status,
                "gen": node.gen,
                "runs_completed": node.runs_completed,
                "has_pull": node.has_pull,
                "target_f": iso(node.targets[0]) if node.targets else None,
                "start_f": iso(node.start_f),
                "end_f": iso(node.end_f),
            }
        )
    return states


def pond_state(
    p: PondNode, deployment: Deployment, now: Micros, node: Node | None = None
) -> dict[str, Any]:
    staleness = p.staleness(now)
    state = _steady_state(p, deployment)
    state["staleness_ms"] = None if staleness is None else staleness // 1000
    state["node"] = None if node is None else node.to_api()
    return state


def _steady_state(p: PondNode, deployment: Deployment) -> dict[str, Any]:
    """Everything of a Pond's state but its staleness: it changes only with ``rev``."""
    trigger = p.trigger
    return {
        "id": p.id,
        "name": deployment.name,
        "major": deployment.major,
        "kind": deployment.kind,
        "version": deployment.version,
        "status": p.status,
        "gen": p.run_seq,
        "runs_completed": p.runs_completed,
        "has_pull": p.has_pull,
        "target_f": iso(p.targets[0]) if p.targets else None,
        "start_f": iso(p.start_f),
        "end_f": iso(p.end_f),
        "d_ms": p.d // 1000,
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
    return {"now": iso(now) or "", "ponds": ponds, "edges": _edges(engine)}


def _edges(engine: Engine) -> list[list[str]]:
    return [
        [edge.source, p.id]
        for p in engine.ponds.values()
        for edge in p.sources
        if edge.source in engine.ponds
    ]


class StatusCache:
    """The status document as JSON, rebuilding only the Ponds whose ``rev`` moved."""

    def __init__(self) -> None:
        #: Pond id -> (rev, deployment, its JSON object without the closing brace).
        self._parts: dict[str, tuple[int, Deployment, str]] = {}

    def document(
        self,
        engine: Engine,
        lines: dict[str, Deployment],
        now: Micros,
        node_of: Callable[[str], Node | None] = lambda line: None,
    ) -> str:
        """The document; ``node_of`` says where each line's Duck runs (read per request, like
        staleness: a Duck moves without the engine's state changing)."""
        parts: list[str] = []
        cache = self._parts
        for p in engine.ponds.values():
            deployment = lines.get(p.id)
            if deployment is None:
                continue
            cached = cache.get(p.id)
            if cached is None or cached[0] != p.rev or cached[1] is not deployment:
                text = json.dumps(_steady_state(p, deployment), separators=(",", ":"))
                cached = (p.rev, deployment, text[:-1])
                cache[p.id] = cached
            staleness = p.staleness(now)
            value = "null" if staleness is None else str(staleness // 1000)
            node = node_of(p.id)
            where = "null" if node is None else json.dumps(node.to_api(), separators=(",", ":"))
            parts.append(f'{cached[2]},"staleness_ms":{value},"node":{where}}}')
        if len(cache) > len(engine.ponds):
            for gone in [line for line in cache if line not in engine.ponds]:
                del cache[gone]
        head = json.dumps({"now": iso(now) or ""}, separators=(",", ":"))[:-1]
        edges = json.dumps(_edges(engine), separators=(",", ":"))
        return f'{head},"ponds":[{",".join(parts)}],"edges":{edges}}}'
