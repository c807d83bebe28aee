"""A real root on disk for Duck tests: Pond version folders, a registry and a ledger.

The test Pond's Ripples leave traces under the root that tests read back:

- ``calls/{ripple}``: one line per call, the ``time.perf_counter()`` at which it began;
- ``hold/{ripple}``: while this file exists the Ripple waits (to pin down an overlap);
- ``fail/{ripple}``: holds N; the Ripple raises on its first N calls (-1: always).
"""

from __future__ import annotations

import json
import textwrap
import time
from collections.abc import Callable
from pathlib import Path

from duckstring.duck.executor import Executor
from duckstring.duck.ledger import Ledger
from duckstring.duck.protocol import BeginRun
from duckstring.layout import RootLayout

NAME = "pond"

HELPERS = '''
import time
from pathlib import Path

from duckstring import ripple


def trace(pond, name):
    """Leave the call's traces, wait while held, and raise when told to."""
    root = Path(pond.root)
    (root / "calls").mkdir(exist_ok=True)
    with open(root / "calls" / name, "a") as calls:
        calls.write(f"{time.perf_counter()}\\n")
    while (root / "hold" / name).exists():
        time.sleep(0.002)
    fail = root / "fail" / name
    if fail.exists():
        budget = int(fail.read_text())
        failures = root / "failures" / name
        failures.parent.mkdir(exist_ok=True)
        done = len(failures.read_text().splitlines()) if failures.exists() else 0
        if budget < 0 or done < budget:
            with open(failures, "a") as out:
                out.write("x\\n")
            raise ValueError(f"boom in {name}")
'''

#: a -> b, and c reading both: three Ripples in dependency order.
CHAIN = (
    HELPERS
    + """

@ripple
def a(pond):
    trace(pond, "a")
    pond.write_table("a", pond.con.sql("SELECT 1 AS x"))


@ripple(parents=[a])
def b(pond):
    trace(pond, "b")
    pond.write_table("b", pond.read_table("a").project("x + 1 AS x"))


@ripple(parents=[a, b])
def c(pond):
    trace(pond, "c")
    pond.write_table("c", pond.con.sql("SELECT a.x AS a, b.x AS b FROM a, b"))
"""
)


def write_version(
    layout: RootLayout,
    source: str = CHAIN,
    version: str = "1.0.0",
    name: str = NAME,
    manifest_extra: str = "",
) -> Path:
    folder = layout.version(name, version)
    (folder / "src").mkdir(parents=True, exist_ok=True)
    (folder / "pond.toml").write_text(
        f'[pond]\nname = "{name}"\nversion = "{version}"\n{manifest_extra}'
    )
    (folder / "src" / "pond.py").write_text(textwrap.dedent(source))
    return folder


def begin(
    seq: int, f: int, *, version: str = "1.0.0", kind: str = "pull", retries: int = 0
) -> BeginRun:
    return BeginRun(seq=seq, f=f, version=version, kind=kind, immediate_retries=retries)


class Line:
    """One line of the test Pond on a real root, with helpers to read what the Duck did."""

    def __init__(self, root: Path) -> None:
        self.layout = RootLayout(root)
        self.root = self.layout.root
        self.executors: list[Executor] = []

    def executor(self, duck_id: str = "test", **options: object) -> Executor:
        executor = Executor(self.layout, NAME, 1, duck_id=duck_id, **options)  # type: ignore[arg-type]
        self.executors.append(executor)
        executor.start()
        return executor

    def calls(self, ripple: str) -> list[float]:
        path = self.root / "calls" / ripple
        return [float(v) for v in path.read_text().split()] if path.exists() else []

    def hold(self, ripple: str) -> None:
        (self.root / "hold").mkdir(exist_ok=True)
        (self.root / "hold" / ripple).touch()

    def release(self, ripple: str) -> None:
        (self.root / "hold" / ripple).unlink(missing_ok=True)

    def fail(self, ripple: str, times: int) -> None:
        (self.root / "fail").mkdir(exist_ok=True)
        (self.root / "fail" / ripple).write_text(str(times))

    def ledger(self) -> Ledger:
        return Ledger(self.layout.ledger(NAME, 1))

    def events(self) -> list[dict[str, object]]:
        ledger = self.ledger()
        try:
            return [json.loads(row.body) for row in ledger.outbox()]
        finally:
            ledger.close()

    def event_ids(self) -> list[str]:
        return [str(event["id"]) for event in self.events()]

    def parquet(self, table: str) -> Path:
        return self.layout.table(NAME, 1, table)


def wait_until(condition: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s")
        time.sleep(0.005)
