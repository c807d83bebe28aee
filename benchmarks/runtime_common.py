"""What every part of the runtime benchmark shares: its settings, and a Catchment that is always
stopped, with whatever it leaves behind reported."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from runtime_report import Report
from runtime_server import CatchmentProcess
from runtime_watch import load_average

from duckstring.testing import zombies


@dataclass
class Settings:
    quick: bool
    demo_scale: float
    wave_seconds: float
    idle_seconds: float
    chain: int
    fan_in: int
    layered: int
    layered_width: int
    lines: int
    status_requests: int
    #: Seconds each trivial Ripple sleeps.
    pause: float
    deploy_threads: int
    #: Seconds between one /api/status answer and the next request while a Pulse runs.
    poll: float = 0.02
    #: Seconds between the answers a Pulse's watch decodes (it times every one).
    read_every: float = 0.1


@contextlib.contextmanager
def catchment(
    report: Report, workdir: Path, env: dict[str, str] | None = None
) -> Iterator[CatchmentProcess]:
    """A running Catchment; always stopped by its PID. Zombies under it, processes outliving it
    and error lines in its log are reported."""
    workdir.mkdir(parents=True)
    server = CatchmentProcess(workdir, env=env or {})
    server.start()
    try:
        yield server
    finally:
        stuck = zombies(server.descendants())
        left = server.shut_down()
        report.line("machine load average at the end of this part", load_average())
        how = "SIGKILLed after 60 s" if server.stop_killed else "exited"
        report.line("Catchment stop: SIGTERM → exit", f"{server.stop_seconds:.1f} s ({how})")
        if server.stop_killed:
            report.problem("the Catchment did not exit within 60 s of SIGTERM")
        report.line("zombies under the Catchment before it stopped", str(len(stuck)))
        report.line("processes that outlived the Catchment", str(len(left)))
        if server.left_at_work:
            report.line("Ducks left running with work in flight", str(len(server.left_at_work)))
        if stuck:
            report.problem(f"zombie processes under the Catchment: {stuck}")
        if left:
            report.problem(f"processes outlived the Catchment (killed by PID): {left}")
        log = server.log_tail(5_000_000)
        errors = [line for line in log.splitlines() if line.startswith("ERROR")]
        causes = [
            line
            for line in log.splitlines()
            if line and not line.startswith((" ", "Traceback", "INFO", "ERROR", "duck "))
        ]
        if errors:
            report.problem(
                f"{len(errors)} errors in the Catchment log ({errors[0]!r}); last lines of "
                f"tracebacks: {sorted(set(causes))[:3]}"
            )
