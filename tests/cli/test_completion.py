"""``duckstring --install-completion`` installs a bash completion that completes commands."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

DUCKSTRING = Path(sys.executable).with_name("duckstring")


@pytest.mark.skipif(shutil.which("bash") is None, reason="bash is not installed")
def test_install_completion_for_bash_completes_commands(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "HOME": str(tmp_path),
        "SHELL": "/bin/bash",
        "PATH": f"{DUCKSTRING.parent}{os.pathsep}{os.environ['PATH']}",
    }
    installed = subprocess.run(
        [str(DUCKSTRING), "--install-completion", "bash"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert installed.returncode == 0, installed.stderr
    assert "completion installed" in installed.stdout
    rc = (tmp_path / ".bashrc").read_text()
    script = tmp_path / ".bash_completions" / "duckstring.sh"
    assert f"source '{script}'" in rc

    # Load ~/.bashrc the way an interactive shell would, then ask for completions.
    probe = """
    source ~/.bashrc
    complete -p duckstring
    COMP_WORDS=(duckstring cat); COMP_CWORD=1; _duckstring_completion duckstring
    echo "top: ${COMPREPLY[*]}"
    COMP_WORDS=(duckstring trigger ""); COMP_CWORD=2; _duckstring_completion duckstring
    echo "trigger: ${COMPREPLY[*]}"
    """
    shell = subprocess.run(
        ["bash", "-c", probe], env=env, capture_output=True, text=True, timeout=60
    )
    assert shell.returncode == 0, shell.stderr
    lines = shell.stdout.splitlines()
    assert "_duckstring_completion duckstring" in lines[0]
    assert "top: catchment" in lines
    assert "trigger: tap pulse wave tide remove window" in lines
