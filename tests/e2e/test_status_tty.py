"""The live status view in a real pseudo-terminal: it redraws in place as a Pulse progresses,
a failure shows in red, and an 80-column terminal still shows every state and version whole."""

from __future__ import annotations

import re
import signal
import sys
from pathlib import Path

import pexpect

from e2e.projects import RAISES, write_pond
from e2e.server import Server

SLOW = """
import time

@ripple
def slow(pond):
    time.sleep(1.5)
    pond.write_table("slow", pond.con.sql("SELECT 1 AS x"))
"""

RED = "\x1b[1;31m"


def restore_ctrl_c() -> None:
    """Give the child the SIGINT a terminal's shell gives it. A command started in the background
    by a shell without job control (as CI may be) inherits SIGINT ignored, and Python keeps an
    ignored SIGINT ignored, so Ctrl+C would not reach the view."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def spawn_status(server: Server, columns: int = 160) -> pexpect.spawn:
    env = server.environment()
    env.update({"TERM": "xterm-256color", "COLUMNS": str(columns), "LINES": "40"})
    env.pop("NO_COLOR", None)
    return pexpect.spawn(
        sys.executable,
        ["-m", "duckstring.cli", "status"],
        env=env,
        encoding="utf-8",
        dimensions=(40, columns),
        timeout=30,
        preexec_fn=restore_ctrl_c,
    )


def test_live_status_shows_a_pulse_progressing_and_a_failure_in_red(
    server: Server, tmp_path: Path
) -> None:
    server.connect_cli()
    server.cli("pond", "deploy", "-y", cwd=write_pond(tmp_path, "work", SLOW, kind="inlet"))
    server.cli("pond", "deploy", "-y", cwd=write_pond(tmp_path, "broken", RAISES, kind="inlet"))
    view = spawn_status(server)
    try:
        view.expect("work@1")
        view.expect("idle")
        server.cli("trigger", "pulse", "work", "--silent")
        view.expect(re.compile(r"work@1\s*│\s*\S*running"))
        view.expect(re.compile(r"work@1\s*│\s*\S*idle"))
        server.cli("trigger", "pulse", "broken", "--silent")
        view.expect(re.compile(re.escape(RED) + "failed"))
        assert "\x1b[" in view.before  # redrawn in place with cursor movement, not appended
        view.sendcontrol("c")
        view.expect(pexpect.EOF)
    finally:
        view.close(force=True)
    assert view.exitstatus == 0 or view.signalstatus is None


HELD = """
import time
from pathlib import Path

@ripple
def held(pond):
    deadline = time.monotonic() + 60
    while not Path({gate!r}).exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    pond.write_table("held", pond.con.sql("SELECT 1 AS x"))
"""


COLOUR = r"(?:\x1b\[[\d;]*m)*"


def row(*cells: str) -> re.Pattern[str]:
    """A drawn row whose first cells are exactly these, whole (a cell may be coloured)."""
    return re.compile("│" + "".join(rf"\s*{COLOUR}{cell}\s*{COLOUR}\s*│" for cell in cells))


def test_live_status_in_an_80_column_terminal_keeps_state_and_version_whole(
    server: Server, tmp_path: Path
) -> None:
    gate = tmp_path / "gate"
    server.connect_cli()
    body = HELD.format(gate=str(gate))
    held = write_pond(tmp_path, "transactions", body, kind="inlet", version="12.104.3")
    server.cli("pond", "deploy", "-y", cwd=held)
    server.cli("pond", "deploy", "-y", cwd=write_pond(tmp_path, "broken", RAISES, kind="inlet"))
    view = spawn_status(server, columns=80)
    try:
        view.expect("transactions@12")
        server.cli("trigger", "pulse", "broken", "--silent")
        view.expect(row("broken@1", "failed", r"1\.0\.0"))
        server.cli("trigger", "pulse", "transactions", "--silent")
        view.expect(row("transactions@12", "running", r"12\.104\.3"))
        assert "…" not in view.before
        gate.touch()
        view.expect(row("transactions@12", "idle", r"12\.104\.3", r"\d+s"))
        assert "…" not in view.before
        view.sendcontrol("c")
        view.expect(pexpect.EOF)
    finally:
        gate.touch()
        view.close(force=True)
