"""The README's set-up commands are the contract CI runs."""

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text()
    block = re.search(r"```bash\n(.*?)```", text, re.S)
    assert block, "the README opens with a bash block of set-up commands"
    return [line for line in block.group(1).splitlines() if line.strip()]


def test_readme_opens_with_two_setup_commands() -> None:
    assert len(_readme_commands()) == 2


def test_ci_runs_exactly_the_readme_test_command() -> None:
    ci = (ROOT / ".ci" / "run").read_text()
    match = re.search(r'^TEST_COMMAND="(.*)"$', ci, re.M)
    assert match, ".ci/run names its TEST_COMMAND"
    assert match.group(1) == _readme_commands()[1]


#: What the README promises is kept clean alongside the tests, as ``.ci/run`` runs it.
CHECKS = ["ruff check .", "ruff format --check .", "mypy"]


def test_ci_runs_ruff_and_mypy_in_the_venv_after_the_tests() -> None:
    ci = (ROOT / ".ci" / "run").read_text()
    lines = ci.splitlines()
    checks = [line.removeprefix("check ") for line in lines if line.startswith("check ")]
    assert checks == CHECKS
    tests_run = lines.index('bash -c "$TEST_COMMAND" 2>&1 | tee "$log"')
    assert lines.index(f"check {CHECKS[0]}") > tests_run, "the checks use the venv it installs"


def test_a_failed_check_fails_the_ci_run(tmp_path: Path) -> None:
    ci = (ROOT / ".ci" / "run").read_text()
    function = re.search(r"^check\(\) \{\n.*?^\}\n", ci, re.S | re.M)
    assert function, ".ci/run defines check()"
    script = function.group(0) + "".join(f"check {c}\n" for c in CHECKS) + 'echo "$status"\n'
    tools = tmp_path / ".venv" / "bin"
    tools.mkdir(parents=True)
    for mypy_exit in (0, 1):
        for tool, code in (("ruff", 0), ("mypy", mypy_exit)):
            (tools / tool).write_text(f"#!/bin/sh\nexit {code}\n")
            (tools / tool).chmod(0o755)
        done = subprocess.run(
            ["bash", "-c", f"status=0\n{script}"], cwd=tmp_path, capture_output=True, text=True
        )
        assert done.stdout.splitlines()[-1] == str(mypy_exit), done.stdout
        assert ("CI: mypy failed" in done.stderr) == bool(mypy_exit), done.stderr
