"""Placement: what an operator asks of a line's Duck's node, checked before it is kept, and
whether a Ray cluster's nodes can hold it (the Ray launcher asks before it creates an actor)."""

from __future__ import annotations

from pathlib import Path

import pytest

from duckstring.catchment.placement import (
    Placement,
    PlacementError,
    parse_size,
    placement_from_api,
)
from duckstring.catchment.ray_launcher import missing_for
from duckstring.catchment.store import Store

GiB = 1 << 30


def node(alive: bool = True, **resources: float) -> dict[str, object]:
    return {"Alive": alive, "Resources": resources}


@pytest.mark.parametrize(
    ("text", "size"),
    [("8G", 8 * 10**9), ("512MiB", 512 << 20), ("1.5GiB", int(1.5 * GiB)), ("1024", 1024)],
)
def test_a_size_is_read_in_decimal_or_binary_units(text: str, size: int) -> None:
    assert parse_size(text) == size


@pytest.mark.parametrize("text", ["", "8X", "-1G", "0", "lots", "2PiB"])
def test_a_bad_size_is_refused_naming_the_field(text: str) -> None:
    with pytest.raises(PlacementError, match="memory"):
        parse_size(text)


def test_a_placement_from_the_api_is_checked_field_by_field() -> None:
    placed = placement_from_api({"cpus": 2, "memory": "8GiB", "resources": {"zone_a": 1}})
    assert placed == Placement(2.0, 8 * GiB, {"zone_a": 1.0})
    assert placed.describe() == "2 CPUs, 8.0 GiB, zone_a=1"
    assert placement_from_api({}).empty


@pytest.mark.parametrize(
    ("body", "named"),
    [
        ({"cpus": -1}, "cpus"),
        ({"cpus": float("nan")}, "cpus"),
        ({"cpus": 1e12}, "cpus"),
        ({"memory": "much"}, "memory"),
        ({"resources": {"CPU": 1}}, "not a custom resource"),
        ({"resources": {"zone a": 1}}, "resource name"),
        ({"resources": {"zone": 0}}, "resource 'zone'"),
        ({"resources": ["zone"]}, "resources"),
        ({"gpus": 1}, "unknown placement field 'gpus'"),
    ],
)
def test_a_bad_placement_is_refused_naming_the_field(body: dict[str, object], named: str) -> None:
    with pytest.raises(PlacementError, match=named):
        placement_from_api(body)


def test_a_placement_some_alive_node_can_hold_is_placeable() -> None:
    nodes = [node(CPU=0), node(CPU=1, zone_a=1), node(CPU=4, zone_b=1, memory=16 * GiB)]
    assert missing_for(Placement(resources={"zone_a": 1}), nodes) is None
    assert missing_for(Placement(cpus=4, memory=8 * GiB), nodes) is None
    # No CPUs asked: Ray needs one to place the actor, and the head's none do not count.
    assert missing_for(Placement(), [node(CPU=0)]) == "no alive node offers resource 'CPU'"


def test_what_no_alive_node_offers_is_named() -> None:
    nodes = [node(CPU=1, zone_a=1), node(alive=False, CPU=8, gpu_box=1)]
    assert missing_for(Placement(resources={"gpu_box": 1}), nodes) == (
        "no alive node offers resource 'gpu_box'"
    )
    assert missing_for(Placement(cpus=2), nodes) == (
        "it asks 2 of resource 'CPU', the most a node has is 1"
    )
    assert missing_for(Placement(memory=64 * GiB), [node(CPU=1, memory=16 * GiB)]) == (
        "it asks 64.0 GiB, the most a node has is 16.0 GiB"
    )
    split = [node(CPU=1, zone_a=1), node(CPU=1, zone_b=1)]
    assert "no single alive node" in str(
        missing_for(Placement(resources={"zone_a": 1, "zone_b": 1}), split)
    )
    assert missing_for(Placement(), []) == "the Ray cluster has no alive node"


def test_placements_and_last_nodes_survive_a_reopened_store(tmp_path: Path) -> None:
    store = Store(tmp_path / "duck.db")
    made = store.catchment_id()
    store.set_placement("sales@1", Placement(0.5, None, {"zone_a": 1.0}))
    store.set_node("sales@1", "node-a")
    store.set_node("reports@1", "node-b")
    store.set_placement("sales@1", Placement(1.0, 2 * GiB, {}))  # replaces, keeps the node
    store.close()
    again = Store(tmp_path / "duck.db")
    assert again.catchment_id() == made and len(made) == 12
    assert again.placements() == {
        "sales@1": (Placement(1.0, 2 * GiB, {}), "node-a"),
        "reports@1": (Placement(), "node-b"),
    }
