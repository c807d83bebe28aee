"""The Alerts dialog: add a rule (a bad one is refused with the server's words), test it into
a real receiver and see the delivery in the log, remove it."""

from __future__ import annotations

from collections.abc import Callable

from e2e.receiver import Receiver
from e2e.server import Server, wait_until
from ui.conftest import Watched


def test_alert_rules_are_added_tested_logged_and_removed_from_the_ui(
    start_server: Callable[..., Server], ui: Watched
) -> None:
    server = start_server()
    page = ui.page
    with Receiver() as receiver:
        page.goto(server.url + "/")
        page.get_by_role("button", name="Alerts").click()
        dialog = page.locator("#alerts")
        dialog.wait_for(state="visible")
        dialog.locator(".alert-rules:has-text('No alert rules yet')").wait_for()

        form = dialog.locator(".alert-form")
        form.locator("input[name=name]").fill("pager")
        form.locator("select[name=on]").select_option("failure")
        form.locator("input[name=ponds]").fill("sales, reports@1")
        form.locator("input[name=to]").fill("nonsense://nowhere")
        form.get_by_role("button", name="Add rule").click()
        error = form.locator(".form-error")
        error.wait_for(state="visible")
        assert error.inner_text().startswith("to: Apprise does not accept")

        form.locator("input[name=to]").fill(receiver.url())
        form.get_by_role("button", name="Add rule").click()
        row = dialog.locator("tr.alert-rule[data-name=pager]")
        row.wait_for()
        assert "sales, reports@1" in row.inner_text() and "active" in row.inner_text()
        with server.client() as client:
            [rule] = client.get("/alerts").json()["alerts"]
        assert rule["ponds"] == ["sales", "reports@1"] and rule["on"] == "failure"

        row.get_by_role("button", name="Test").click()
        dialog.locator("tr.alert-delivery:has-text('delivered')").wait_for()
        assert wait_until(lambda: len(receiver.posts) == 1, 10)
        assert receiver.posts[0]["title"] == "Duckstring: test of alert pager"
        ui.shot("alerts_dialog")

        remove = row.get_by_role("button", name="Remove")
        remove.click()
        row.get_by_role("button", name="Remove?").click()
        dialog.locator(".alert-rules:has-text('No alert rules yet')").wait_for()
        with server.client() as client:
            assert client.get("/alerts").json() == {"alerts": []}
    assert not [e for e in ui.errors if "422" not in e]  # the browser logs the refusal
    assert [r.split()[0] for r in ui.bad_responses] == ["422"]
