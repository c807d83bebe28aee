"""Engine state as plain rows and back, so a host can persist it and rebuild it identically.

Rows are dicts of str, int, bool and None only (``NEVER`` becomes None), grouped per table.
:func:`pond_rows` gives one Pond's rows, so a host can persist only what changed
(:meth:`Engine.take_changed`); :func:`restore` rebuilds an engine from all of them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from duckstring.engine.clock import NEVER, Micros
from duckstring.engine.core import Engine
from duckstring.engine.pond import PondNode, Run, SourceEdge, Trigger
from duckstring.engine.ripples import RippleGraph, RippleSpec
from duckstring.engine.windows import WindowRule

Row = dict[str, Any]
Rows = dict[str, list[Row]]

#: The tables, in the order a host should write them.
TABLES = ("ponds", "sources", "ripples", "ripple_parents", "targets", "runs", "windows")


def _out(value: Micros) -> int | None:
    return None if value == NEVER else value


def _in(value: int | None) -> Micros:
    return NEVER if value is None else int(value)


def pond_rows(p: PondNode) -> Rows:
    """Every row that describes Pond line ``p``."""
    trigger = p.trigger
    rows: Rows = {table: [] for table in TABLES}
    rows["ponds"].append(
        {
            "id": p.id,
            "start_f": _out(p.start_f),
            "end_f": _out(p.end_f),
            "d": p.d,
            "has_pull": p.has_pull,
            "pull_local": p.pull_local,
            "is_failed": p.is_failed,
            "failed_f": _out(p.failed_f),
            "failures": p.failures,
            "is_killed": p.is_killed,
            "parked": p.parked,
            "immediate_retries": p.immediate_retries,
            "source_retries": p.source_retries,
            "trigger_kind": None if trigger is None else trigger.kind,
            "trigger_bound": None if trigger is None else trigger.bound,
            "run_seq": p.run_seq,
            "runs_completed": p.runs_completed,
            "end_seq": p.end_seq,
        }
    )
    for position, edge in enumerate(p.sources):
        rows["sources"].append(
            {"pond": p.id, "position": position, "source": edge.source, "optional": edge.optional}
        )
    for position, node in enumerate(p.ripples.order):
        rows["ripples"].append(
            {
                "pond": p.id,
                "position": position,
                "name": node.name,
                "start_f": _out(node.start_f),
                "end_f": _out(node.end_f),
                "has_pull": node.has_pull,
                "busy": node.busy,
                "force_f": None if node.force_f is None else _out(node.force_f),
                "forcing": node.forcing,
                "retrying": node.retrying,
                "gen": node.gen,
                "runs_completed": node.runs_completed,
            }
        )
        for parent_position, parent in enumerate(node.parents):
            rows["ripple_parents"].append(
                {
                    "pond": p.id,
                    "ripple": node.name,
                    "position": parent_position,
                    "parent": parent.name,
                }
            )
        for target in node.targets:
            rows["targets"].append({"pond": p.id, "ripple": node.name, "f": target})
    for target in p.targets:
        rows["targets"].append({"pond": p.id, "ripple": None, "f": target})
    for run in p.runs.values():
        rows["runs"].append(
            {
                "pond": p.id,
                "seq": run.seq,
                "f": _out(run.f),
                "kind": run.kind,
                "started_at": run.started_at,
                "status": run.status,
            }
        )
    for position, rule in enumerate(p.windows):
        rows["windows"].append({"pond": p.id, "position": position, **rule.to_row()})
    return rows


def engine_rows(engine: Engine) -> Rows:
    """Every row of every Pond line."""
    rows: Rows = {table: [] for table in TABLES}
    for p in engine.ponds.values():
        for table, table_rows in pond_rows(p).items():
            rows[table].extend(table_rows)
    return rows


def _grouped(rows: Iterable[Row], key: str = "pond") -> dict[str, list[Row]]:
    grouped: dict[str, list[Row]] = {}
    for row in rows:
        grouped.setdefault(row[key], []).append(row)
    return grouped


def restore(rows: Mapping[str, Iterable[Row]], now: Micros) -> Engine:
    """An engine rebuilt from :func:`engine_rows` output; it continues as the original would."""
    engine = Engine()
    sources = _grouped(rows.get("sources", ()))
    ripples = _grouped(rows.get("ripples", ()))
    parents = _grouped(rows.get("ripple_parents", ()))
    targets = _grouped(rows.get("targets", ()))
    runs = _grouped(rows.get("runs", ()))
    windows = _grouped(rows.get("windows", ()))
    for row in rows.get("ponds", ()):
        pond_id = row["id"]
        parent_names: dict[str, list[str]] = {}
        for parent_row in sorted(parents.get(pond_id, []), key=lambda r: r["position"]):
            parent_names.setdefault(parent_row["ripple"], []).append(parent_row["parent"])
        ripple_rows = sorted(ripples.get(pond_id, []), key=lambda r: r["position"])
        graph = RippleGraph(
            RippleSpec(r["name"], tuple(parent_names.get(r["name"], ()))) for r in ripple_rows
        )
        for ripple_row in ripple_rows:
            node = graph.nodes[ripple_row["name"]]
            node.start_f = _in(ripple_row["start_f"])
            node.end_f = _in(ripple_row["end_f"])
            node.has_pull = bool(ripple_row["has_pull"])
            node.busy = bool(ripple_row["busy"])
            force_f = ripple_row["force_f"]
            node.force_f = None if force_f is None else _in(force_f)
            node.forcing = bool(ripple_row["forcing"])
            node.retrying = bool(ripple_row.get("retrying", False))
            node.gen = ripple_row.get("gen", 0)
            node.runs_completed = ripple_row.get("runs_completed", 0)
        edges = [
            SourceEdge(r["source"], bool(r["optional"]))
            for r in sorted(sources.get(pond_id, []), key=lambda r: r["position"])
        ]
        p = PondNode(pond_id, graph, edges, row["immediate_retries"], row["source_retries"])
        p.start_f = _in(row["start_f"])
        p.end_f = _in(row["end_f"])
        p.d = row["d"]
        p.has_pull = bool(row["has_pull"])
        p.pull_local = bool(row["pull_local"])
        p.is_failed = bool(row["is_failed"])
        p.failed_f = _in(row["failed_f"])
        p.failures = row["failures"]
        p.is_killed = bool(row["is_killed"])
        p.parked = bool(row.get("parked", False))
        if row["trigger_kind"] is not None:
            p.trigger = Trigger(row["trigger_kind"], row["trigger_bound"])
        p.run_seq = row["run_seq"]
        p.runs_completed = row["runs_completed"]
        p.end_seq = row.get("end_seq") or 0
        for target_row in targets.get(pond_id, []):
            if target_row["ripple"] is None:
                p.targets.append(target_row["f"])
            else:
                graph.nodes[target_row["ripple"]].targets.append(target_row["f"])
        p.targets.sort()
        for node in graph.order:
            node.targets.sort()
        for run_row in sorted(runs.get(pond_id, []), key=lambda r: r["seq"]):
            p.runs[run_row["seq"]] = Run(
                run_row["seq"],
                _in(run_row["f"]),
                run_row["kind"],
                run_row["started_at"],
                run_row["status"],
            )
        window_rows = sorted(windows.get(pond_id, []), key=lambda r: r["position"])
        p.windows = [WindowRule.from_row(w) for w in window_rows]
        engine.ponds[pond_id] = p
    for p in engine.ponds.values():
        for edge in p.sources:
            engine.sinks_of.setdefault(edge.source, []).append(p.id)
    engine.recompute_blocked()
    engine.evaluate_all(now)
    return engine
