"""A keyed Catchment: the UI asks for the key on a 401, keeps it in the browser, and works."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from e2e.projects import COUNTER, write_pond
from e2e.server import Server
from ui.conftest import Watched, deploy, status_of

KEY = "ui-test-key-0123456789"


def test_the_key_prompt_appears_and_the_ui_works_after_entering_it(
    start_server: Callable[..., Server], ui: Watched, tmp_path_factory: pytest.TempPathFactory
) -> None:
    server = start_server(key=KEY)
    deploy(
        server, write_pond(tmp_path_factory.mktemp("projects"), "counter", COUNTER, kind="inlet")
    )
    page = ui.page
    page.goto(server.url + "/")
    prompt = page.locator("#key-prompt")
    prompt.wait_for(state="visible")
    assert "needs an API key" in prompt.inner_text()
    ui.shot("key_prompt")

    prompt.locator("input").fill("not-the-key")
    prompt.get_by_role("button", name="Unlock").click()
    page.wait_for_selector("#key-prompt:has-text('refused')")

    prompt.locator("input").fill(KEY)
    prompt.get_by_role("button", name="Unlock").click()
    page.wait_for_selector('g.pond[data-id="counter@1"]')
    assert prompt.is_hidden()
    assert page.evaluate("() => Object.values(localStorage)") == [KEY]

    # Every call carries the key: a Tap from the sidebar runs the Pond.
    page.click('g.pond[data-id="counter@1"] .pond-name')
    page.get_by_role("button", name="Tap", exact=True).click()
    page.wait_for_selector('g.pond[data-id="counter@1"].st-idle .pond-line:has-text("fresh")')
    assert status_of(server)["counter@1"]["runs_completed"] >= 1

    # The key stays in the browser: a reload does not ask again, nor meet a 401.
    refused = len(ui.bad_responses)
    page.reload()
    page.wait_for_selector('g.pond[data-id="counter@1"]')
    page.wait_for_timeout(1500)
    assert prompt.is_hidden()
    assert len(ui.bad_responses) == refused
    assert {r.split()[0] for r in ui.bad_responses} == {"401"}
    assert not [e for e in ui.errors if "401" not in e]
