"""The driver and its fleet adapter, with a real store and job board and a launcher held in
memory: what reaches the launcher, the history and the board. The event loop's clock is
simulated: no process, no sleep."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from memory_launcher import MemoryLauncher

from duckstring.catchment.driver import Driver
from duckstring.catchment.fleet import FleetRules, Phase
from duckstring.catchment.jobs import JobBoard
from duckstring.catchment.store import Store
from duckstring.catchment.store.db import Deployment
from duckstring.duck import protocol
from duckstring.duck.protocol import BeginRun, DuckEvent
from duckstring.engine import RippleSpec

STALLED = "stalled: outstanding work but no Ripple running for 30 s"


@contextmanager
def driver_on(root: Path, launcher: MemoryLauncher) -> Iterator[Driver]:
    store = Store(root / "duck.db")
    driver = Driver(store, launcher, JobBoard(), rules=FleetRules(prestart=0, linger=60.0))
    try:
        yield driver
    finally:
        driver.stop()
        store.close()


class SimLoop(asyncio.SelectorEventLoop):
    """An event loop whose clock moves only when a test moves it."""

    now = 1000.0

    def time(self) -> float:
        return self.now


def run(body: Callable[[], Coroutine[Any, Any, None]]) -> None:
    with asyncio.Runner(loop_factory=SimLoop) as runner:
        runner.run(body())


def deploy(driver: Driver, name: str) -> str:
    """A one-Ripple Inlet ``name``, deployed as the deploy route registers one."""
    line = f"{name}@1"
    deployment = Deployment(
        name=name,
        version="1.0.0",
        major=1,
        kind="inlet",
        manifest={},
        ripples=[{"name": "step", "parents": []}],
        path=f"ponds/{name}/1.0.0",
        deployed_at=driver.clock.now(),
        is_active=True,
    )

    def register(engine: Any, now: int) -> None:
        engine.deploy(line, [RippleSpec("step", ())], [], now)
        driver.store.record_deployment(deployment)
        driver.lines[line] = deployment

    driver.apply(register)
    return line


def pulse(driver: Driver, line: str) -> BeginRun:
    driver.apply(lambda engine, now: engine.pulse(line, now))
    (command,) = driver.board.pending(line)
    assert isinstance(command, BeginRun)
    return command


def complete(driver: Driver, line: str, command: BeginRun) -> None:
    """The Duck reports the run done, as a Duck does."""
    at = driver.clock.now()
    facts: dict[str, Any] = {"at": at, "seq": command.seq, "f": command.f}
    driver.duck_events(
        line,
        [
            DuckEvent(id=f"s:{command.seq}", type="ripple_started", ripple="step", **facts),
            DuckEvent(id=f"d:{command.seq}", type="ripple_succeeded", ripple="step", **facts),
            DuckEvent(id=f"c:{command.seq}", type="run_completed", **facts),
        ],
    )


def history(driver: Driver, line: str) -> list[tuple[int, str, str | None]]:
    return [(r["seq"], r["status"], r["error"]) for r in driver.store.runs([line], 10)]


async def until(condition: Callable[[], bool]) -> None:
    """Let the loop turn until ``condition`` holds (work handed to the spawner thread, or a
    timer due)."""
    while not condition():
        await asyncio.sleep(0)


def sim_loop() -> SimLoop:
    loop = asyncio.get_running_loop()
    assert isinstance(loop, SimLoop)
    return loop


def test_a_begun_run_is_posted_and_takes_a_spare_with_the_run_in_hand(tmp_path: Path) -> None:
    async def body() -> None:
        launcher = MemoryLauncher(spares=1)
        with driver_on(tmp_path, launcher) as driver:
            driver.start(asyncio.get_running_loop())
            line = deploy(driver, "solo")
            command = pulse(driver, line)
            assert launcher.log == [("spare", line)]
            duck = launcher.ducks[line]
            assert duck.version == "1.0.0" and duck.commands == (command,)
            assert driver.fleet.policy.ducks[line].phase is Phase.LOADING
            assert launcher.ready == 0  # no spare replaces it while its run is in flight

    run(body)


def test_a_duck_with_no_spare_waiting_is_forked_off_the_loop(tmp_path: Path) -> None:
    async def body() -> None:
        launcher = MemoryLauncher()
        with driver_on(tmp_path, launcher) as driver:
            driver.start(asyncio.get_running_loop())
            line = deploy(driver, "solo")
            pulse(driver, line)
            assert driver.fleet.policy.ducks[line].phase is Phase.STARTING
            await until(lambda: driver.fleet.policy.ducks[line].phase is Phase.LOADING)
            assert launcher.log == [("forked", line)]

    run(body)


def test_a_ducks_exit_mid_run_fails_the_run_with_a_message(tmp_path: Path) -> None:
    async def body() -> None:
        launcher = MemoryLauncher(spares=1)
        with driver_on(tmp_path, launcher) as driver:
            driver.start(asyncio.get_running_loop())
            line = deploy(driver, "solo")
            pulse(driver, line)
            launcher.exit(line, -9)
            assert history(driver, line) == [
                (1, "failed", "the Duck of solo@1 was killed by signal 9")
            ]
            assert driver.board.pending(line) == []  # no next Duck begins the failed run
            assert line not in driver.fleet.policy.ducks

    run(body)


def test_a_stall_report_fails_the_run_with_the_ducks_words(tmp_path: Path) -> None:
    async def body() -> None:
        launcher = MemoryLauncher(spares=1)
        with driver_on(tmp_path, launcher) as driver:
            driver.start(asyncio.get_running_loop())
            line = deploy(driver, "solo")
            pulse(driver, line)
            error = DuckEvent(id="w:1", type="worker_error", at=driver.clock.now(), error=STALLED)
            driver.duck_events(line, [error])
            assert history(driver, line) == [(1, "failed", STALLED)]
            launcher.exit(line, 4)  # it exits after its report: nothing more fails
            assert history(driver, line) == [(1, "failed", STALLED)]
            assert driver.engine.pond(line).failures == 1

    run(body)


def test_an_idle_duck_is_told_to_stop_after_lingering(tmp_path: Path) -> None:
    async def body() -> None:
        launcher = MemoryLauncher(spares=1)
        with driver_on(tmp_path, launcher) as driver:
            loop = sim_loop()
            driver.start(loop)
            line = deploy(driver, "solo")
            command = pulse(driver, line)
            driver.duck_polled(line)
            await driver.board.take(line, 0)
            complete(driver, line, command)
            assert history(driver, line) == [(1, "success", None)]
            assert driver.fleet.policy.ducks[line].phase is Phase.IDLE
            await until(lambda: launcher.ready == 1)  # quiet again: the spare is replaced
            loop.now += 59.9
            for _ in range(10):
                await asyncio.sleep(0)
            assert driver.board.pending(line) == []
            loop.now += 0.1  # a minute after it went idle
            await until(lambda: bool(driver.board.pending(line)))
            assert driver.board.pending(line) == [protocol.Shutdown(reason="idle")]
            assert driver.fleet.policy.ducks[line].phase is Phase.STOPPING

    run(body)


def test_apply_rolls_back_and_rebuilds_the_engine_when_an_operation_fails(
    tmp_path: Path,
) -> None:
    async def body() -> None:
        launcher = MemoryLauncher(spares=1)
        with driver_on(tmp_path, launcher) as driver:
            driver.start(asyncio.get_running_loop())
            line = deploy(driver, "solo")

            def pulse_then_fail(engine: Any, now: int) -> None:
                engine.pulse(line, now)
                raise RuntimeError("the disk is full")

            with pytest.raises(RuntimeError, match="the disk is full"):
                driver.apply(pulse_then_fail)
            p = driver.engine.pond(line)
            assert not p.runs and not p.has_demand and p.run_seq == 0
            assert history(driver, line) == []
            assert driver.board.pending(line) == [] and launcher.log == []
            pulse(driver, line)  # and the rebuilt engine goes on
            assert launcher.log == [("spare", line)]

    run(body)


def test_a_restart_adopts_the_duck_left_running_and_starts_no_second_one(
    tmp_path: Path,
) -> None:
    async def body() -> None:
        with driver_on(tmp_path, MemoryLauncher(spares=1)) as first:
            first.start(asyncio.get_running_loop())
            line = deploy(first, "solo")
            command = pulse(first, line)
        launcher = MemoryLauncher(spares=1, survivors={line})
        with driver_on(tmp_path, launcher) as driver:
            driver.start(asyncio.get_running_loop())
            assert launcher.log == [("adopted", line)]
            assert driver.board.pending(line) == [command]  # dispatched again, to it
            assert driver.fleet.policy.ducks[line].adopted
            launcher.exit(line, None)
            assert history(driver, line) == [
                (1, "failed", "the Duck of solo@1 (adopted after a restart) exited")
            ]

    run(body)


def test_a_graceful_stop_leaves_only_the_duck_with_work_in_flight(tmp_path: Path) -> None:
    async def body() -> None:
        launcher = MemoryLauncher(spares=2)
        with driver_on(tmp_path, launcher) as driver:
            driver.start(asyncio.get_running_loop())
            busy, idle = deploy(driver, "busy"), deploy(driver, "idle")
            pulse(driver, busy)
            command = pulse(driver, idle)
            driver.duck_polled(idle)
            await driver.board.take(idle, 0)
            complete(driver, idle, command)
            driver.stop()
            assert driver.fleet.at_work() == {busy}
            assert launcher.stop_all(leave=driver.fleet.at_work()) == {busy: "in memory"}

    run(body)


def test_a_wake_up_already_due_is_kept_under_uvloop(tmp_path: Path) -> None:
    """uvloop answers ``call_at`` of a moment already past with a plain Handle (no ``when``):
    asking for a later wake-up while that one waits must keep it, not fail."""
    uvloop = pytest.importorskip("uvloop")

    async def body() -> None:
        with driver_on(tmp_path, MemoryLauncher(spares=0)) as driver:
            loop = asyncio.get_running_loop()
            driver.start(loop)
            woke: list[float] = []
            fleet = driver.fleet
            fleet.review = lambda: woke.append(loop.time())  # type: ignore[method-assign]
            fleet._wake_at(loop.time() - 1.0)
            fleet._wake_at(loop.time() + 60.0)  # later: the due one stands
            await asyncio.sleep(0.01)
            assert len(woke) == 1

    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(body())
