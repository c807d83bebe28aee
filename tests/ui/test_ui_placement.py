"""The Placement section of a Pond's sidebar: it shows the line's placement, saves a new one
through the API and refuses a malformed one with a toast, changing nothing."""

from __future__ import annotations

import httpx

from e2e.server import Server
from ui.conftest import Watched


def placement_of(server: Server, pond: str) -> dict[str, object]:
    return httpx.get(f"{server.url}/api/ponds/{pond}/placement", timeout=10).json()


def test_the_sidebar_saves_a_placement_and_refuses_a_bad_one(demo: Server, ui: Watched) -> None:
    page = ui.page
    page.goto(demo.url + "/")
    page.click('g.pond[data-id="products@1"] .pond-name')
    section = page.locator(".side-section.placement")
    section.get_by_text("local launcher").wait_for(timeout=15_000)
    section.get_by_label("CPUs").fill("2")
    section.get_by_label("Memory").fill("512MiB")
    section.get_by_label("Custom resources").fill("zone_a=1, fast_disk")
    section.get_by_role("button", name="Save placement").click()
    page.get_by_text("Placement of products@1 saved").wait_for(timeout=10_000)
    assert placement_of(demo, "products") | {"node": None} == {
        "line": "products@1",
        "launcher": "local",
        "cpus": 2.0,
        "memory": 512 << 20,
        "resources": {"zone_a": 1.0, "fast_disk": 1.0},
        "node": None,
        "last_node": None,
    }
    assert section.get_by_label("Memory").input_value() == "0.5GiB"
    ui.shot("placement_saved")

    section.get_by_label("Custom resources").fill("CPU=4")
    section.get_by_role("button", name="Save placement").click()
    page.get_by_text("not a custom resource").wait_for(timeout=10_000)
    assert placement_of(demo, "products")["resources"] == {"zone_a": 1.0, "fast_disk": 1.0}

    section.get_by_role("button", name="Clear").click()
    page.get_by_text("Placement of products@1 cleared").wait_for(timeout=10_000)
    assert placement_of(demo, "products")["cpus"] is None
    # The one refusal is the 422 the page was shown; nothing else failed.
    assert [e for e in ui.errors if "422" not in e] == []
    assert [r for r in ui.bad_responses if not r.startswith("422 ")] == []
    assert len(ui.bad_responses) == 1 and not ui.failed_requests
