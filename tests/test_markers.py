"""``-m "not slow"`` leaves out every test that starts a Catchment or a browser, and keeps the
unit tests of the engine, the store, the Pond API, local runs, the Duck and the CLI."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def fast_tests() -> list[str]:
    """The ids of the tests ``-m "not slow"`` selects, from a collection of the whole suite."""
    command = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--collect-only"]
    done = subprocess.run(
        [*command, "-m", "not slow", "tests"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert re.search(r"\d+/\d+ tests collected \(\d+ deselected\)", done.stdout), done.stdout
    return [line for line in done.stdout.splitlines() if "::" in line]


def test_not_slow_leaves_out_the_tests_that_start_servers_and_keeps_the_unit_tests() -> None:
    fast = fast_tests()
    started = [t for t in fast if t.startswith(("tests/e2e/", "tests/contract/", "tests/ui/"))]
    assert started == []
    for folder in ("engine", "pond", "local", "duck", "cli", "catchment"):
        assert any(t.startswith(f"tests/{folder}/") for t in fast), folder
    assert any(t.startswith("tests/catchment/test_store.py::") for t in fast)
    # The security tests with a server are out, those reading the app or the repository in.
    auth = "tests/security/test_security_auth.py::"
    assert f"{auth}test_health_answers_without_a_key" not in fast
    assert f"{auth}test_no_api_route_is_left_out_of_the_openapi_document" in fast
    assert not any(t.startswith("tests/security/test_security_uploads.py::") for t in fast)
    hosting = "tests/security/test_security_hosting.py::"
    assert f"{hosting}test_the_platform_bundle_is_two_files_naming_the_asgi_app" in fast
    assert f"{hosting}test_the_platform_bundle_serves_health_under_uvicorn" not in fast
    assert f"{hosting}test_the_app_works_under_a_path_prefix_and_ducks_dial_back" not in fast
    # A test marked by hand is out; the unit tests beside it are in.
    own = "tests/test_testing.py::"
    assert f"{own}test_a_ponds_own_test_deploys_runs_and_queries_its_pond" not in fast
    assert f"{own}test_a_lines_duck_is_the_process_holding_its_lock" in fast


def test_the_readme_command_runs_every_test_and_marks_are_checked() -> None:
    options = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["pytest"]["ini_options"]
    assert "--strict-markers" in options["addopts"].split()
    assert not re.search(r"(^|\s)-m(\s|$)", options["addopts"]), "no marker left out by default"
    assert any(marker.startswith("slow:") for marker in options["markers"])
