"""The canvas at 200 Ponds: laid out without overlaps, fitted, searchable, and refreshed in place.

The page is served by a real Catchment; its status document is a generated one of 200 Pond lines
(the browser's requests for it are answered by the test), which keeps the test fast.
"""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta
from typing import Any

from duckstring.pond.names import parse_line
from e2e.server import Server
from ui.conftest import Watched

STATES = ["idle"] * 12 + ["running", "queued", "blocked", "failed", "killed"]


def big_status(tick: int, ponds: int = 200) -> dict[str, Any]:
    """A status document of ``ponds`` lines in about ten layers; ``tick`` moves their state."""
    rng = random.Random(7)
    now = datetime(2026, 1, 1, 12, 0, tzinfo=UTC) + timedelta(seconds=tick)
    stamp = lambda t: t.isoformat().replace("+00:00", "Z")  # noqa: E731
    # The last line is a second major of the Pond before it: a Pond of its own on the canvas.
    ids = [f"pond_{i:03d}@1" for i in range(ponds - 1)] + [f"pond_{ponds - 2:03d}@2"]
    layer = [min(9, i * 10 // ponds + (i % 3 == 0)) if i >= 12 else 0 for i in range(ponds)]
    edges = []
    for i, pond_id in enumerate(ids):
        earlier = [j for j in range(ponds) if layer[j] < layer[i]]
        for j in rng.sample(earlier, min(len(earlier), rng.randint(1, 3))):
            edges.append([ids[j], pond_id])
    state_rng = random.Random(tick)
    documents = []
    for i, pond_id in enumerate(ids):
        ripple_count = rng.randint(1, 4)
        ripples = [f"step_{k}" for k in range(ripple_count)]
        status = state_rng.choice(STATES)
        documents.append(
            {
                "id": pond_id,
                "name": parse_line(pond_id)[0],
                "major": parse_line(pond_id)[1],
                "kind": "inlet" if layer[i] == 0 else "pond",
                "version": "1.0.0",
                "status": status,
                "gen": tick,
                "runs_completed": 3,
                "has_pull": state_rng.random() < 0.3,
                "target_f": stamp(now) if state_rng.random() < 0.2 else None,
                "start_f": stamp(now - timedelta(seconds=5)),
                "end_f": stamp(now - timedelta(seconds=5 + i % 50)),
                "d_ms": 0,
                "staleness_ms": (5 + i % 50) * 1000,
                "trigger": {"kind": "wave", "bound_ms": None} if i % 40 == 39 else None,
                "is_failed": status == "failed",
                "is_blocked": status == "blocked",
                "is_killed": status == "killed",
                "failed_f": None,
                "failures": 0,
                "immediate_retries": 0,
                "source_retries": 0,
                "windows": 0,
                "ripples": [
                    {
                        "name": name,
                        "status": "running" if status == "running" and k == 0 else "idle",
                        "has_pull": False,
                        "target_f": None,
                        "start_f": None,
                        "end_f": None,
                    }
                    for k, name in enumerate(ripples)
                ],
                "ripple_edges": [[ripples[k], ripples[k + 1]] for k in range(ripple_count - 1)],
            }
        )
    return {"now": stamp(now), "ponds": documents, "edges": edges}


def serve_big_status(page: Any) -> list[int]:
    served = [0]

    def status(route: Any) -> None:
        served[0] += 1
        route.fulfill(
            status=200, content_type="application/json", body=json.dumps(big_status(served[0]))
        )

    page.route("**/api/status", status)
    page.route(
        "**/api/runs?*",
        lambda route: route.fulfill(
            status=200, content_type="application/json", body='{"runs":[]}'
        ),
    )
    # The Ponds exist only in the served status: so do their explanations, forecasts and
    # placements.
    idle = {"state": "idle", "at": "2026-01-01T00:00:00Z", "summary": "idle: no demand"}
    page.route(
        "**/api/ponds/*/why?*",
        lambda route: route.fulfill(
            status=200,
            content_type="application/json",
            body=json.dumps({"line": "x@1", "reasons": [], **idle}),
        ),
    )
    page.route(
        "**/api/ponds/*/forecast?*",
        lambda route: route.fulfill(
            status=200,
            content_type="application/json",
            body=json.dumps({"line": "x@1", "next_fresh": None, "reason": "no demand"}),
        ),
    )
    placement = {"cpus": None, "memory": None, "resources": {}, "node": None, "last_node": None}
    page.route(
        "**/api/ponds/*/placement?*",
        lambda route: route.fulfill(
            status=200,
            content_type="application/json",
            body=json.dumps({"line": "x@1", "launcher": "local", **placement}),
        ),
    )
    return served


def overlaps(boxes: list[dict[str, float]]) -> list[tuple[str, str]]:
    found = []
    for i, a in enumerate(boxes):
        for b in boxes[i + 1 :]:
            if (
                a["x"] < b["x"] + b["w"]
                and b["x"] < a["x"] + a["w"]
                and a["y"] < b["y"] + b["h"]
                and b["y"] < a["y"] + a["h"]
            ):
                found.append((a["id"], b["id"]))
    return found


LAYOUT = """() => {
  const g = window.duckstring.graph;
  return {
    ponds: [...g.layout.ponds.values()].map(b => ({id: b.id, x: b.x, y: b.y, w: b.w, h: b.h})),
    width: g.layout.width, height: g.layout.height, view: g.view,
  };
}"""


def test_two_hundred_ponds_are_laid_out_fitted_found_and_refreshed_in_place(
    demo: Server, ui: Watched
) -> None:
    page = ui.page
    served = serve_big_status(page)
    page.goto(demo.url + "/")
    page.wait_for_function("() => document.querySelectorAll('g.pond').length === 200")
    expected_edges = len(big_status(1)["edges"])
    assert page.locator("g.edge").count() == expected_edges

    # Concurrent majors are separate Ponds, named with their major.
    for line in ("pond_198@1", "pond_198@2"):
        label = page.text_content(f'g.pond[data-id="{line}"] .pond-name') or ""
        assert label.startswith(line), label

    layout = page.evaluate(LAYOUT)
    assert overlaps(layout["ponds"]) == []
    # Tall layers wrap, so the whole graph keeps roughly the shape of a screen.
    assert 0.8 < layout["width"] / layout["height"] < 4, layout
    # Every edge runs left to right, Source before Sink.
    x = {b["id"]: b["x"] for b in layout["ponds"]}
    assert all(x[a] < x[b] for a, b in big_status(1)["edges"])

    # Fitted, the whole graph is on the canvas, drawn as names large enough to read.
    page.click("#fit")
    canvas = page.locator("#graph").bounding_box()
    drawn = page.locator("#viewport").bounding_box()
    assert drawn["x"] >= canvas["x"] - 1 and drawn["y"] >= canvas["y"] - 1
    assert drawn["x"] + drawn["width"] <= canvas["x"] + canvas["width"] + 1
    assert drawn["y"] + drawn["height"] <= canvas["y"] + canvas["height"] + 1
    assert "far" in (page.get_attribute("#graph", "class") or "")
    name = page.locator('g.pond[data-id="pond_150@1"] .pond-bigname')
    assert name.bounding_box()["height"] >= 7, "Pond names unreadable when fitted"
    ui.shot("scale_fitted")

    # Finding a Pond selects it and brings it close enough to read its Ripples.
    page.fill("#search", "pond_150")
    page.keyboard.press("Enter")
    page.wait_for_selector('.side-pond[data-pond="pond_150@1"]')
    view = page.evaluate(LAYOUT)["view"]
    assert view["k"] >= 0.9
    box = page.locator('g.pond[data-id="pond_150@1"] .pond-box').bounding_box()
    centre = (box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    assert abs(centre[0] - (canvas["x"] + canvas["width"] / 2)) < 2
    assert abs(centre[1] - (canvas["y"] + canvas["height"] / 2)) < 2
    assert page.locator('g.pond[data-id="pond_150@1"] g.ripple').first.is_visible()
    ui.shot("scale_found")

    # Wheel zoom and drag pan move the view, not the layout.
    page.mouse.move(canvas["x"] + 300, canvas["y"] + 300)
    page.mouse.wheel(0, 400)
    assert page.evaluate(LAYOUT)["view"]["k"] < view["k"]
    before_pan = page.evaluate(LAYOUT)["view"]
    page.mouse.down()
    page.mouse.move(canvas["x"] + 420, canvas["y"] + 360, steps=4)
    page.mouse.up()
    after_pan = page.evaluate(LAYOUT)["view"]
    assert round(after_pan["x"] - before_pan["x"]) == 120
    assert round(after_pan["y"] - before_pan["y"]) == 60

    # Refreshes change every state but move nothing and rebuild nothing; recolouring is cheap.
    page.evaluate("() => document.querySelectorAll('g.pond').forEach(g => g.__kept = true)")
    positions = page.evaluate(LAYOUT)["ponds"]
    seen = served[0]
    page.wait_for_timeout(2600)
    assert served[0] >= seen + 2, "the page stopped refreshing"
    assert page.evaluate(LAYOUT)["ponds"] == positions
    assert page.evaluate(
        "() => [...document.querySelectorAll('g.pond')].every(g => g.__kept === true)"
    )
    cost = page.evaluate(
        """() => { const app = window.duckstring; const t = performance.now();
                   for (let i = 0; i < 10; i++) { app.graph.nodes.forEach(n => n.key = null);
                     app.graph.update(app.status, app.nowMs()); }
                   return (performance.now() - t) / 10; }"""
    )
    assert cost < 50, f"repainting 200 Ponds took {cost:.1f} ms"
    ui.assert_clean()
