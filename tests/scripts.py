"""Running a test's own Python script in a fresh interpreter (a forkserver, a prepared DuckDB
instance or a ``__main__`` of its own must not leak into the test process)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def run_script(
    folder: Path, text: str, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Write ``text`` to a script in ``folder`` and run it with ``args``; output captured."""
    script = folder / "script.py"
    script.write_text(text)
    return subprocess.run(
        [sys.executable, str(script), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
