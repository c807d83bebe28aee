"""The status document is built as plain dicts; it must keep the documented shape."""

from duckstring.catchment.models import Status
from duckstring.catchment.status import status_document
from duckstring.catchment.store.db import Deployment
from duckstring.engine.sim import Simulation


def test_the_status_document_matches_its_model() -> None:
    sim = Simulation()
    sim.deploy("a@1", {"x": [], "y": ["x"]})
    sim.deploy("b@1", sources=["a@1"])
    sim.tide("b@1", 10)
    sim.run_for(1.5)
    lines = {
        line: Deployment(line[:-2], "1.0.0", 1, "pond", {}, [], "p", 0, True)
        for line in ("a@1", "b@1")
    }
    document = status_document(sim.engine, lines, sim.now)
    parsed = Status.model_validate(document)
    assert parsed.model_dump() == document
    assert document["edges"] == [["a@1", "b@1"]]
    b = next(p for p in document["ponds"] if p["id"] == "b@1")
    assert b["trigger"] == {"kind": "tide", "bound_ms": 10_000}
    a = next(p for p in document["ponds"] if p["id"] == "a@1")
    assert a["ripple_edges"] == [["x", "y"]] and a["status"] == "running"
