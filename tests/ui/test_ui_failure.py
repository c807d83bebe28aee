"""A failing Pond in the web UI: red node, blocked Sink traced to it, Run Detail's traceback."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from e2e.projects import COPY_OF, COUNTER, RAISES, write_pond
from e2e.server import Server
from ui.conftest import Watched, deploy, status_of


@pytest.fixture(scope="module")
def fragile(
    start_server: Callable[..., Server], tmp_path_factory: pytest.TempPathFactory
) -> Server:
    """source (Inlet) → middle (raises, one immediate retry) → sink."""
    server = start_server()
    projects: Path = tmp_path_factory.mktemp("projects")
    deploy(server, write_pond(projects, "source", COUNTER, kind="inlet"))
    deploy(
        server,
        write_pond(
            projects,
            "middle",
            RAISES,
            sources={"source": "1.0.0"},
            settings="immediate_retries = 1",
        ),
    )
    sink_body = COPY_OF.format(table="copy", source="middle", source_table="fragile")
    deploy(server, write_pond(projects, "sink", sink_body, sources={"middle": "1.0.0"}))
    return server


def test_a_failing_pond_turns_red_and_its_run_detail_shows_the_traceback(
    fragile: Server, ui: Watched
) -> None:
    page = ui.page
    page.goto(fragile.url + "/")
    page.click('g.pond[data-id="sink@1"] .pond-name')
    page.get_by_role("button", name="Tap", exact=True).click()

    page.wait_for_selector('g.pond[data-id="middle@1"].st-failed', timeout=30_000)
    page.wait_for_selector('g.pond[data-id="middle@1"] g.ripple[data-ripple="fragile"].st-failed')
    page.wait_for_selector('g.pond[data-id="sink@1"].st-blocked')
    assert "1 failed" in page.inner_text("#summary")
    ui.shot("failure_graph")

    # From the blocked Sink, the sidebar names the failed Pond upstream.
    page.wait_for_selector(".problem.st-blocked")
    page.locator(".problem").get_by_role("button", name="middle@1 (failed)").click()
    page.wait_for_selector('.side-pond[data-pond="middle@1"]')
    open_detail = page.get_by_role("button", name="Open Run Detail")
    open_detail.wait_for()
    assert "ValueError: the input is broken" in page.inner_text(".problem")
    open_detail.click()

    detail = page.locator("#run-detail")
    detail.locator(".traceback").first.wait_for()
    assert "middle@1 · run #" in detail.locator("h2").inner_text()
    assert "failed" in detail.locator("h2").inner_text()
    attempts = detail.locator(".attempts tbody tr")
    assert attempts.count() == 2
    assert "↻1" in attempts.nth(1).inner_text()
    tracebacks = detail.locator(".failure .traceback")
    assert tracebacks.count() == 2
    text = tracebacks.first.inner_text()
    assert "Traceback (most recent call last)" in text
    assert 'raise ValueError("the input is broken")' in text
    assert (
        "ValueError: the input is broken" in detail.locator(".failure-message").first.inner_text()
    )
    ui.shot("failure_run_detail")
    detail.locator(".detail-close").click()

    # Sleep the Sink and its lineage (else its pull would run middle again), then Clear Failure:
    # the Pond is idle again and the Sink unblocked.
    page.click('g.pond[data-id="sink@1"] .pond-name')
    page.get_by_label("Sleep upstream too").check()
    page.get_by_role("button", name="Sleep", exact=True).click()
    page.wait_for_selector("#toasts .toast:has-text('Sleep → sink@1 and upstream')")
    page.click('g.pond[data-id="middle@1"] .pond-name')
    page.get_by_role("button", name="Clear Failure").click()
    page.wait_for_selector('g.pond[data-id="middle@1"]:not(.st-failed)')
    page.wait_for_selector('g.pond[data-id="sink@1"]:not(.st-blocked)')
    status = status_of(fragile)
    assert not status["middle@1"]["is_failed"] and not status["sink@1"]["is_blocked"]
    ui.assert_clean()


def test_kill_asks_for_confirmation_and_parks_the_pond(fragile: Server, ui: Watched) -> None:
    page = ui.page
    page.goto(fragile.url + "/")
    page.click('g.pond[data-id="source@1"] .pond-name')
    kill = page.get_by_role("button", name="Kill", exact=True)
    kill.click()
    confirm = page.get_by_role("button", name="Confirm kill?")
    confirm.wait_for()
    assert not status_of(fragile)["source@1"]["is_killed"], "one click must not kill"
    confirm.click()
    page.wait_for_selector('g.pond[data-id="source@1"].st-killed')
    assert status_of(fragile)["source@1"]["is_killed"]
    ui.shot("killed")
    page.get_by_role("button", name="Clear Failure").click()
    page.wait_for_selector('g.pond[data-id="source@1"]:not(.st-killed)')
    ui.assert_clean()
