"""The runtime benchmark runs end to end in its quick form: it starts a real Catchment, prints its
sections and stops everything it started."""

from __future__ import annotations

import importlib
import re
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "runtime.py"


def test_the_quick_runtime_benchmark_prints_its_report_and_exits_cleanly() -> None:
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--quick", "--only", "demo-pulse", "--deadline", "60"],
        capture_output=True,
        text=True,
        timeout=90,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    for header in (
        "== Demo: one Pulse on reports",
        "== Leftover processes ==",
        "== Summary of targets ==",
    ):
        assert header in out, out
    assert "Pulse end-to-end / critical path" in out
    assert re.search(r"^  runs +4 success$", out, re.MULTILINE), out
    assert re.search(r"^  processes that outlived the Catchment +0$", out, re.MULTILINE), out
    # The machine's speed is taken again after each part, so a slowed machine shows.
    assert "== Machine speed through the run ==" in out, out
    speed = r"^  CPU reference after demo +2,000,000 Python additions in \d+ ms"
    assert re.search(speed, out, re.MULTILINE), out


def test_the_report_says_when_the_machine_s_speed_moved_during_a_run(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.syspath_prepend(str(SCRIPT.parent))
    runtime = importlib.import_module("runtime")
    steady = runtime.Report()
    runtime.check_speed(steady, [("at the start", 0.130), ("after demo", 0.160)])
    assert steady.problems == []
    slowed = runtime.Report()
    runtime.check_speed(slowed, [("at the start", 0.130), ("after chain", 0.170)])
    assert len(slowed.problems) == 1
    assert "130 ms at the start and 170 ms after chain" in slowed.problems[0]
