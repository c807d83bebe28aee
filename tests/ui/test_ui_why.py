"""The Why block in the web UI: a blocked Sink's chain names the failing Source and the verb
that clears it; Run Detail says why a run happened."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from e2e.projects import COPY_OF, COUNTER, RAISES, write_pond
from e2e.server import Server
from ui.conftest import Watched, deploy


@pytest.fixture(scope="module")
def failing(
    start_server: Callable[..., Server], tmp_path_factory: pytest.TempPathFactory
) -> Server:
    """source (Inlet) → middle (raises) → sink."""
    server = start_server()
    projects: Path = tmp_path_factory.mktemp("projects")
    deploy(server, write_pond(projects, "source", COUNTER, kind="inlet"))
    deploy(server, write_pond(projects, "middle", RAISES, sources={"source": "1.0.0"}))
    sink_body = COPY_OF.format(table="copy", source="middle", source_table="fragile")
    deploy(server, write_pond(projects, "sink", sink_body, sources={"middle": "1.0.0"}))
    return server


def test_the_why_block_follows_a_blocked_sink_to_its_root_and_run_detail_says_why_it_ran(
    failing: Server, ui: Watched
) -> None:
    page = ui.page
    page.goto(failing.url + "/")
    page.click('g.pond[data-id="sink@1"] .pond-name')
    page.get_by_role("button", name="Tap", exact=True).click()
    page.wait_for_selector('g.pond[data-id="sink@1"].st-blocked', timeout=30_000)

    why = page.locator(".side-why")
    why.locator('.why-reason[data-kind="failed"]').wait_for(timeout=15_000)
    kinds = why.locator(".why-reason").evaluate_all("(nodes) => nodes.map((n) => n.dataset.kind)")
    assert kinds[0] == "blocked_by" and "failed" in kinds
    failed = why.locator('.why-reason[data-kind="failed"]')
    assert failed.get_attribute("data-line") == "middle@1"
    assert "alarm" in (failed.get_attribute("class") or "")
    text = why.inner_text()
    assert "middle@1" in text and "duckstring control clear middle" in text
    assert "Faults" in text  # each reason names its rule
    ui.shot("why_blocked_sink")

    # The failing Pond's Run Detail: why that run happened.
    page.click('g.pond[data-id="middle@1"] .pond-name')
    page.wait_for_selector('.side-pond[data-pond="middle@1"]')
    page.get_by_role("button", name="Open Run Detail").first.click()
    cause = page.locator("#run-detail .detail-why")
    cause.locator('.why-reason[data-kind="started_by"]').wait_for(timeout=15_000)
    assert "started by pull from sink@1" in cause.inner_text()
    ui.shot("why_run_detail")
