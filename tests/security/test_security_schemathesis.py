"""A property-based run of the live OpenAPI document: schemathesis generates valid and invalid
requests for every operation of a keyed Catchment, and none may be answered with a 5xx.

Path, query and body values are drawn either by schemathesis or from a real deployed Pond, so
the requests reach past "unknown Pond" into each route's own validation. The Duck long poll is
given short waits, and a git deploy whose URL git would really fetch is pointed at a closed
loopback port, so nothing leaves this machine.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from duckstring.catchment.alerts.rules import RuleError, check_url
from duckstring.catchment.gitsource import check_repo_url
from duckstring.catchment.upload import IntakeError
from e2e.server import Server
from security.conftest import KEY, deploy_pond, pulse_until_published

schemathesis = pytest.importorskip("schemathesis")

#: Examples per operation (half valid, half invalid on average): about a minute in all.
EXAMPLES = 25
KNOWN = {
    "name": "known",
    "pond": "known",
    "major": 1,
    "version": "1.0.0",
    "ripple": "numbers",
    "window": "nightly",
}
CLOSED_PORT_REPO = "https://127.0.0.1:9/pond.git"
CLOSED_PORT_ALERTS = "json://127.0.0.1:9/alerts"


@pytest.fixture(scope="module")
def live(start_server: Callable[..., Server], tmp_path_factory: pytest.TempPathFactory) -> Server:
    server = start_server(key=KEY)
    deploy_pond(server, tmp_path_factory.mktemp("projects"), "known", kind="inlet")
    pulse_until_published(server, "known")
    return server


def sometimes_known(values: Any) -> st.SearchStrategy[Any]:
    """The generated values, or with a known name in place of each generated one."""
    if not isinstance(values, dict) or not any(key in KNOWN for key in values):
        return st.just(values)
    return st.fixed_dictionaries(
        {
            key: st.sampled_from([value, KNOWN[key]]) if key in KNOWN else st.just(value)
            for key, value in values.items()
        }
    )


def server_tracebacks(server: Server) -> str:
    text = server.log.read_text() if server.log is not None and server.log.exists() else ""
    blocks = re.findall(r"Traceback \(most recent call last\):.*?\n(?=\S)[^\n]*", text, re.S)
    return "\n\n".join(blocks[-5:])


def test_no_generated_request_makes_the_server_fail(live: Server) -> None:
    schema = schemathesis.openapi.from_url(f"{live.url}/openapi.json")
    auth = {"Authorization": f"Bearer {KEY}"}
    schema.config.update(base_url=live.url, headers=auth)

    @schema.hook
    def flatmap_path_parameters(context: Any, path_parameters: Any) -> Any:
        return sometimes_known(path_parameters)

    @schema.hook
    def flatmap_query(context: Any, query: Any) -> Any:
        return sometimes_known(query)

    @schema.hook
    def flatmap_body(context: Any, body: Any) -> Any:
        return sometimes_known(body)

    @schema.hook
    def map_body(context: Any, body: Any) -> Any:
        if isinstance(body, dict) and isinstance(body.get("repo_url"), str):
            try:
                check_repo_url(body["repo_url"])
            except IntakeError:
                return body  # refused before git runs
            return {**body, "repo_url": CLOSED_PORT_REPO}
        if isinstance(body, dict) and isinstance(body.get("to"), str):
            try:
                check_url(body["to"])
            except RuleError:
                return body  # refused before anything is stored
            return {**body, "to": CLOSED_PORT_ALERTS}  # an alert test delivers here, not out
        return body

    failures: list[str] = []
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 25
    for operation in operations:
        exercise(operation, schema.hooks, auth, failures)
    assert not failures, "\n".join(failures[:20]) + "\n\n" + server_tracebacks(live)


def exercise(operation: Any, hooks: Any, auth: dict[str, str], failures: list[str]) -> None:
    """Send ``EXAMPLES`` generated requests (valid or not) to one operation; record any 5xx."""
    label = operation.label
    strategy = st.one_of(
        operation.as_strategy(schemathesis.GenerationMode.POSITIVE, hooks=hooks),
        operation.as_strategy(schemathesis.GenerationMode.NEGATIVE, hooks=hooks),
    )

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=strategy)
    def call(case: Any) -> None:
        if case.path.endswith("/jobs"):
            case.query = {**(case.query or {}), "wait": 0.1}
        try:
            response = case.call(timeout=60, headers=auth)
        except Exception as error:  # a 500 also closes the connection
            failures.append(f"{label}: {error!r}\n  {case.as_curl_command()}")
            return
        if response.status_code >= 500:
            failures.append(
                f"{label}: {response.status_code} {response.text[:300]}\n  {case.as_curl_command()}"
            )

    call()
