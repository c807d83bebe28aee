"""Run a child process inside a time limit, stopping its whole process group when it overruns.

``subprocess.run(timeout=...)`` kills only the direct child; git's helpers (ssh, remote-https)
or a subprocess started by a Pond author's module would survive it and keep the pipes open.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path


def run_bounded(
    command: Sequence[str],
    *,
    timeout: float,
    env: Mapping[str, str] | None = None,
    cwd: Path | str | None = None,
) -> subprocess.CompletedProcess[bytes]:
    """Run ``command`` with no stdin, capturing its output.

    Raises ``subprocess.TimeoutExpired`` after ``timeout`` seconds, once the child's whole
    process group has been killed.
    """
    process = subprocess.Popen(
        list(command),
        cwd=cwd,
        env=dict(env) if env is not None else None,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        stdout, stderr = process.communicate(timeout=max(timeout, 0.001))
    except BaseException:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)
        process.communicate()
        raise
    return subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)
