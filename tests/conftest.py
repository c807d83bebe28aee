"""Every test gets its own Duckstring home: no test reads or writes ~/.duckstring.

The tests that start a Catchment or a browser are marked ``slow`` here, by where they live and
by the fixtures they use, so ``-m "not slow"`` runs the rest in a minute or two; a test that
starts a Catchment without the mark fails and says so.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from duckstring import testing

TESTS = Path(__file__).resolve().parent

#: Folders whose every test starts a Catchment or a browser (or runs something that does).
SLOW_FOLDERS = {"e2e", "contract", "ui"}
#: Fixtures, used outside those folders, that start a Catchment or a server process.
SLOW_FIXTURES = {"server", "start_server", "bundle_server", "prefixed"}

#: The test whose setup, call or teardown is running.
RUNNING = pytest.StashKey[pytest.Item]()


def is_slow(item: pytest.Item) -> bool:
    """Whether the test starts a Catchment or a browser, from its folder and fixtures."""
    folder = item.path.relative_to(TESTS).parts[0]
    fixtures = set(getattr(item, "fixturenames", ()))
    return folder in SLOW_FOLDERS or bool(fixtures & SLOW_FIXTURES)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if is_slow(item):
            item.add_marker(pytest.mark.slow)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[Any]:
    item.config.stash[RUNNING] = item
    try:
        return (yield)
    finally:
        del item.config.stash[RUNNING]


@pytest.fixture(scope="session", autouse=True)
def only_slow_tests_start_catchments(request: pytest.FixtureRequest) -> Iterator[None]:
    """A test not marked slow fails if it starts a Catchment: the marks stay exact."""
    start = testing.Server.start
    config = request.config

    def start_if_slow(self: testing.Server, *args: Any, **kwargs: Any) -> testing.Server:
        # A fixture of any scope starts its server within the protocol of the first test
        # that needs it, so the mark checked is that test's.
        test = config.stash.get(RUNNING, None)
        if test is not None and test.get_closest_marker("slow") is None:
            pytest.fail(
                f"{test.nodeid} starts a Catchment but is not marked slow: use a fixture "
                "named in SLOW_FIXTURES (tests/conftest.py) or mark it",
                pytrace=False,
            )
        return start(self, *args, **kwargs)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(testing.Server, "start", start_if_slow)
        yield


@pytest.fixture(autouse=True)
def duckstring_home(
    tmp_path_factory: pytest.TempPathFactory,
    monkeypatch: pytest.MonkeyPatch,
    request: pytest.FixtureRequest,
) -> Path:
    home = tmp_path_factory.mktemp("dshome")
    monkeypatch.setenv("DUCKSTRING_HOME", str(home))
    return home
