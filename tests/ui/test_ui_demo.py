"""The web UI against a real Catchment running the demo: the graph, a Pulse, the window editor."""

from __future__ import annotations

import time
from typing import Any

from e2e.server import Server
from ui.conftest import Watched, status_of

DEMO = {
    "transactions@1": ["ingest"],
    "products@1": ["ingest"],
    "sales@1": ["daily_sales", "price_tiers", "join_lines"],
    "reports@1": ["monthly_summary"],
}


def pond_state(ui: Watched, pond_id: str) -> str:
    classes: str = ui.page.get_attribute(f'g.pond[data-id="{pond_id}"]', "class")
    return next(c[3:] for c in classes.split() if c.startswith("st-"))


def select_pond(ui: Watched, pond_id: str) -> None:
    ui.page.click(f'g.pond[data-id="{pond_id}"] .pond-name')
    ui.page.wait_for_selector(f'.side-pond[data-pond="{pond_id}"]')


def test_the_graph_shows_all_four_ponds_with_their_ripples_and_edges(
    demo: Server, ui: Watched
) -> None:
    page = ui.page
    page.goto(demo.url + "/")
    page.wait_for_selector("g.pond", state="attached")
    ponds = page.eval_on_selector_all("g.pond", "els => els.map(e => e.dataset.id)")
    assert sorted(ponds) == sorted(DEMO)
    for pond_id, ripples in DEMO.items():
        shown = page.eval_on_selector_all(
            f'g.pond[data-id="{pond_id}"] g.ripple', "els => els.map(e => e.dataset.ripple)"
        )
        assert sorted(shown) == sorted(ripples)
    edges = page.eval_on_selector_all(
        "g.edge", "els => els.map(e => [e.dataset.from, e.dataset.to])"
    )
    assert sorted(map(tuple, edges)) == [
        ("products@1", "sales@1"),
        ("sales@1", "reports@1"),
        ("transactions@1", "sales@1"),
    ]
    assert page.locator("g.pond[data-id='sales@1'] path.ripple-edge").count() == 2
    # Inlets to the left of sales, sales to the left of reports: columns by depth.
    x = {
        pond_id: page.locator(f'g.pond[data-id="{pond_id}"] .pond-box').bounding_box()["x"]
        for pond_id in DEMO
    }
    assert x["transactions@1"] == x["products@1"] < x["sales@1"] < x["reports@1"]
    assert "4 Pond lines" in page.inner_text("#summary")
    assert page.is_visible(".legend")
    ui.assert_clean()


def test_a_pulse_clicked_in_the_sidebar_turns_nodes_running_then_idle(
    demo: Server, ui: Watched
) -> None:
    page = ui.page
    page.goto(demo.url + "/")
    select_pond(ui, "reports@1")
    before = status_of(demo)["reports@1"]["runs_completed"]
    page.get_by_role("button", name="Pulse", exact=True).click()
    page.wait_for_selector("#toasts .toast:has-text('Pulse → reports@1')")
    # Something in the lineage is drawn running (the inlets first), and later all settle.
    page.wait_for_selector("g.pond.st-running", timeout=20_000)
    ui.shot("pulse_running")
    page.wait_for_function(
        """() => [...document.querySelectorAll('g.pond')]
                   .every(g => g.classList.contains('st-idle'))
               && document.querySelectorAll('g.ripple.st-running').length === 0""",
        timeout=30_000,
    )
    assert status_of(demo)["reports@1"]["runs_completed"] > before
    assert pond_state(ui, "reports@1") == "idle"
    assert "fresh" in (page.text_content('g.pond[data-id="reports@1"] .pond-line') or "")
    # The run history lists the Pulse's runs, newest first, each a success with a duration.
    page.wait_for_selector("#history tr.run-row[data-line='reports@1'] .pill.st-success")
    rows = page.locator("#history tr.run-row")
    assert rows.count() >= 4
    # The sidebar's own history and its Run Detail.
    page.locator(".side-runs tr.run-row").first.click()
    page.wait_for_selector("#run-detail .attempts")
    assert "monthly_summary" in page.inner_text("#run-detail .attempts")
    assert "reports@1 · run #" in page.inner_text("#run-detail h2")
    ui.shot("pulse_run_detail")
    page.keyboard.press("Escape")
    assert page.is_hidden("#run-detail")
    # A Ripple's own view lists its attempts.
    page.click('g.pond[data-id="sales@1"] g.ripple[data-ripple="join_lines"]')
    page.wait_for_selector(".side-ripple .side-attempts tr.run-row .pill.st-success")
    assert "daily_sales" in page.inner_text(".side-ripple .facts")
    ui.assert_clean()


def test_a_wave_settles_into_a_cadence_shown_in_the_sidebar(demo: Server, ui: Watched) -> None:
    page = ui.page
    page.goto(demo.url + "/")
    select_pond(ui, "reports@1")
    start = status_of(demo)["reports@1"]["runs_completed"]
    page.get_by_role("button", name="Wave", exact=True).click()
    try:
        page.wait_for_selector('g.pond[data-id="reports@1"] .pond-trigger text:text("WAVE")')
        page.wait_for_selector(".side-pond .facts dd:has-text('a run every')", timeout=30_000)
        # The cadence needs three runs; the Wave ran at least two of them.
        assert status_of(demo)["reports@1"]["runs_completed"] >= max(3, start + 2)
        ui.shot("wave_cadence")
        page.get_by_role("button", name="Remove trigger").click()
        page.wait_for_selector('g.pond[data-id="reports@1"] .pond-trigger', state="hidden")
        # Demand already in the graph drains; then everything is idle again.
        page.wait_for_function(
            """() => [...document.querySelectorAll('g.pond')]
                       .every(g => g.classList.contains('st-idle'))""",
            timeout=30_000,
        )
    finally:
        with demo.client() as client:  # the next tests start from a quiet pipeline
            client.post("/ponds/reports/untrigger")
    ui.assert_clean()


def test_a_window_added_in_the_editor_is_served_by_the_api_and_an_overlap_shows_inline(
    demo: Server, ui: Watched
) -> None:
    page = ui.page
    page.goto(demo.url + "/")
    select_pond(ui, "transactions@1")
    form = page.locator("form.window-form")
    form.locator("input[name=window-name]").fill("nightly")
    form.locator("input[name=window-every]").fill("1")
    form.locator("select[name=window-unit]").select_option("DAY")
    form.locator("input[name=window-duration]").fill("2")
    form.locator("select[name=window-duration-unit]").select_option("h")
    form.locator("input[name=window-start]").fill("2024-05-01T02:00")
    for day in ("WED", "MON"):
        form.locator(f"input[type=checkbox][value={day}]").check()
    form.get_by_role("button", name="Add window").click()
    listed = page.locator(".window-list li[data-window=nightly]")
    listed.wait_for()
    # The editor describes the rule itself from the fields the API lists.
    assert listed.locator(".window-rule").inner_text() == (
        "every 1d from 2024-05-01 02:00:00.000 UTC for 2h 00m on MON,WED"
    )
    with demo.client() as client:
        windows = client.get("/ponds/transactions/windows").json()["windows"]
    assert windows == [
        {
            "name": "nightly",
            "start_anchor": "2024-05-01T02:00:00Z",
            "duration_seconds": 7200,
            "freq_unit": "DAY",
            "freq_interval": 1,
            "valid_days": "MON,WED",
            "until_time": None,
        }
    ]

    # An overlapping rule is refused, and the reason shows in the editor itself.
    form.locator("input[name=window-name]").fill("clash")
    form.locator("input[name=window-start]").fill("2024-05-01T03:00")
    form.get_by_role("button", name="Add window").click()
    error = form.locator(".form-error")
    error.wait_for(state="visible")
    assert "overlap" in error.inner_text().lower()
    ui.shot("window_overlap")
    with demo.client() as client:
        names = [w["name"] for w in client.get("/ponds/transactions/windows").json()["windows"]]
    assert names == ["nightly"]

    page.get_by_role("button", name="Remove", exact=True).click()
    page.wait_for_selector(".window-list li[data-window=nightly]", state="detached")
    with demo.client() as client:
        assert client.get("/ponds/transactions/windows").json()["windows"] == []
    # The 422 of the overlap is the only failed response, and it was expected.
    assert [r for r in ui.bad_responses if "/windows" not in r] == []
    assert not ui.errors or all("422" in e for e in ui.errors)


def test_budgets_are_editable_live_and_a_trigger_is_set_and_removed(
    demo: Server, ui: Watched
) -> None:
    page = ui.page
    page.goto(demo.url + "/")
    select_pond(ui, "sales@1")
    page.get_by_label("Immediate retries").fill("2")
    page.get_by_label("Retries on Source change").fill("1")
    page.get_by_role("button", name="Save budgets").click()
    page.wait_for_selector("#toasts .toast:has-text('2 immediate, 1 on change')")
    with demo.client() as client:
        assert client.get("/ponds/sales/budget").json() == {
            "immediate_retries": 2,
            "source_retries": 1,
        }
    page.get_by_label("Tide bound in seconds").fill("30")
    page.get_by_role("button", name="Tide", exact=True).click()
    badge = page.locator('g.pond[data-id="sales@1"] .pond-trigger text')
    badge.wait_for()
    page.wait_for_function(
        "() => document.querySelector('g.pond[data-id=\"sales@1\"] .pond-trigger text')"
        ".textContent.includes('TIDE')"
    )
    assert status_of(demo)["sales@1"]["trigger"] == {"kind": "tide", "bound_ms": 30000}
    # The badge selects the trigger itself.
    page.locator('g.pond[data-id="sales@1"] .pond-trigger').click()
    page.wait_for_selector(".side-trigger")
    ui.shot("trigger_selected")
    page.get_by_role("button", name="Remove trigger").click()
    deadline = time.monotonic() + 10
    while status_of(demo)["sales@1"]["trigger"] is not None:
        assert time.monotonic() < deadline, "the trigger was not removed"
        time.sleep(0.1)
    page.wait_for_selector('g.pond[data-id="sales@1"] .pond-trigger', state="hidden")
    ui.assert_clean()


def _boxes(ui: Watched) -> dict[str, Any]:
    return ui.page.evaluate(
        """() => Object.fromEntries([...document.querySelectorAll('g.pond')]
              .map(g => [g.dataset.id, g.getAttribute('transform')]))"""
    )


def test_the_refresh_keeps_nodes_in_place_and_reuses_their_elements(
    demo: Server, ui: Watched
) -> None:
    page = ui.page
    page.goto(demo.url + "/")
    page.wait_for_selector("g.pond")
    before = _boxes(ui)
    page.evaluate("() => document.querySelectorAll('g.pond').forEach(g => g.__kept = true)")
    with demo.client() as client:
        client.post("/ponds/reports/pulse")
    page.wait_for_selector("g.pond.st-running", timeout=20_000)
    page.wait_for_timeout(2500)
    assert _boxes(ui) == before
    assert page.evaluate(
        "() => [...document.querySelectorAll('g.pond')].every(g => g.__kept === true)"
    ), "a refresh rebuilt the drawing instead of recolouring it"
    ui.assert_clean()
