"""The forkserver launcher forks Ducks without re-running the Catchment's own script."""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

from duckstring.duck.worker import URL_ENV
from scripts import run_script

#: A Catchment started from a script (as the ``duckstring`` console script starts one): it
#: leaves a mark each time it is imported, then forks one Duck that stops at once (no URL).
SCRIPT = textwrap.dedent(
    """
    import sys
    from pathlib import Path

    Path(sys.argv[1], "imported-as-" + __name__).touch()

    if __name__ == "__main__":
        from duckstring.catchment.forkserver import ForkserverLauncher
        from duckstring.duck.worker import DuckConfig

        def config(line, version, commands):
            return DuckConfig(root=sys.argv[1], pond="p", major=1, url="")

        launcher = ForkserverLauncher(config, lambda line: Path(sys.argv[1], "duck.lock"))
        launcher.start("p@1")
        duck = launcher.ducks["p@1"]
        duck.process.join(60)
        print("exit", duck.process.exitcode)
    """
)


def test_a_duck_does_not_rerun_the_catchments_script(tmp_path: Path) -> None:
    # multiprocessing re-runs a script __main__ in every child as __mp_main__ so that objects
    # defined there can be unpickled; a Duck needs none of them, and the duckstring console
    # script would import the whole CLI into every Duck (~100 ms and ~20 MiB each).
    env = {key: value for key, value in os.environ.items() if key != URL_ENV}
    done = run_script(tmp_path, SCRIPT, str(tmp_path), env=env)
    assert done.returncode == 0, done.stderr
    assert "exit 1" in done.stdout  # the Duck ran, and refused to start without a URL
    assert "no Catchment URL" in done.stderr
    marks = sorted(path.name for path in tmp_path.glob("imported-as-*"))
    assert marks == ["imported-as-__main__"]


#: A forkserver launcher keeping two spares, whose Ducks dial a port nobody answers and stop
#: after 0.3 s of silence with no work. Prints what the test checks.
SPARES = textwrap.dedent(
    """
    import sys
    from pathlib import Path

    from duckstring.catchment.forkserver import ForkserverLauncher
    from duckstring.duck.worker import DuckConfig
    from duckstring.layout import RootLayout

    root = Path(sys.argv[1])

    def config(line, version, commands):
        name, _, major = line.rpartition("@")
        return DuckConfig(
            root=root, pond=name, major=int(major), url="http://127.0.0.1:9", orphan=0.3
        )

    def lock_of(line):
        name, _, major = line.rpartition("@")
        return RootLayout(root).duck_lock(name, int(major))

    launcher = ForkserverLauncher(config, lock_of, spares=2)
    print("before any spare:", launcher.take_spare("p@1"))
    print("yielding to a line's Duck:", launcher.replenish(lambda: True), launcher.spare_pids())
    print("forked:", launcher.replenish(), "then", launcher.replenish())
    spares = launcher.spare_pids()
    print("registered:", launcher.take_spare("p@1"), "p@1" in launcher.ducks)
    duck = launcher.ducks["p@1"]
    print("bound the first spare:", duck.pid == spares[0], launcher.spare_pids() == spares[1:])
    # The Launcher reaps its Ducks itself: left on multiprocessing's list of children, every
    # new Duck's start would poll all of them first.
    import multiprocessing
    print("multiprocessing's children:", multiprocessing.active_children())
    duck.process.join(60)
    print("it ran the line and stopped:", duck.process.exitcode)
    lock = RootLayout(root).duck_lock("p", 1).read_text().split()
    print("it held the line's lock:", lock == ["pid", str(duck.pid)])
    launcher.reap(duck)

    # A spare that died while it waited is passed over (the forkserver reaped it).
    import os, signal, time
    os.kill(spares[1], signal.SIGKILL)
    while os.path.exists(f"/proc/{spares[1]}"):
        time.sleep(0.01)
    print("a dead spare is passed over:", launcher.take_spare("q@1"), launcher.spare_pids())

    launcher.replenish()
    waiting = launcher.spare_pids()
    launcher.stop_all()
    gone = all(not os.path.exists(f"/proc/{pid}") for pid in waiting)
    print("stop_all ends the spares:", len(waiting), gone)
    """
)


def test_spare_ducks_are_bound_to_lines_and_stopped_with_the_launcher(tmp_path: Path) -> None:
    root = tmp_path / "root"
    done = run_script(tmp_path, SPARES, str(root))
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        "before any spare: False",
        "yielding to a line's Duck: 0 []",
        "forked: 2 then 0",
        "registered: True True",
        "bound the first spare: True True",
        "multiprocessing's children: []",
        "it ran the line and stopped: 0",
        "it held the line's lock: True",
        "a dead spare is passed over: False []",
        "stop_all ends the spares: 2 True",
    ], done.stderr
    assert "no answer" in done.stderr  # the bound spare ran the Duck of p@1 with its config
    assert (root / "ponds" / "p" / "m1" / "pond.db").is_file()


#: Holds the lock file named by its argument, as a Duck left running by a stop does, and says
#: so on stdout; then waits to be killed.
HOLD = textwrap.dedent(
    """
    import fcntl, os, sys, time

    handle = open(sys.argv[1], "a+")
    fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
    handle.write(f"pid {os.getpid()}\\n")
    handle.flush()
    print("holding", flush=True)
    time.sleep(600)
    """
)

#: Watches a forked Duck (it exits at once: no URL) and an adopted one, killed. Prints what
#: the test checks.
WATCH = textwrap.dedent(
    """
    import asyncio, subprocess, sys
    from pathlib import Path

    from duckstring.catchment.forkserver import ForkserverLauncher
    from duckstring.duck.worker import DuckConfig

    root = Path(sys.argv[1])
    locks = {"p@1": root / "p.lock", "s@1": root / "s.lock"}

    def config(line, version, commands):
        return DuckConfig(root=root, pond="p", major=1, url="")

    launcher = ForkserverLauncher(config, locks.__getitem__)

    async def main():
        loop = asyncio.get_running_loop()
        ended = asyncio.Queue()

        def on_exit(line, code, adopted, reason):
            ended.put_nowait((line, code, adopted))

        launcher.start("p@1")
        launcher.watch("p@1", loop, on_exit)
        print("forked:", await ended.get(), "p@1" in launcher.ducks)
        survivor = subprocess.Popen(
            [sys.executable, "-c", sys.argv[2], str(locks["s@1"])],
            stdout=subprocess.PIPE,
            start_new_session=True,
        )
        survivor.stdout.readline()
        print("nothing to adopt:", launcher.adopt("p@1"))
        print("adopted:", launcher.adopt("s@1"), launcher.ducks["s@1"].pid == survivor.pid)
        launcher.watch("s@1", loop, on_exit)
        launcher.kill("s@1")
        print("killed:", await ended.get(), "s@1" in launcher.ducks)
        survivor.wait()

    asyncio.run(main())
    """
)


def test_a_watched_duck_reports_its_exit_once_and_a_survivor_is_adopted(tmp_path: Path) -> None:
    env = {key: value for key, value in os.environ.items() if key != URL_ENV}
    done = run_script(tmp_path, WATCH, str(tmp_path), HOLD, env=env)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        "forked: ('p@1', 1, False) False",
        "nothing to adopt: False",
        "adopted: True True",
        "killed: ('s@1', None, True) False",
    ], done.stderr


def test_the_forkserver_preloads_no_more_than_a_duck_needs(tmp_path: Path) -> None:
    # Every module the forkserver imports is in every Duck's memory: the event loop machinery
    # of the Catchment (asyncio) must not come along with the launcher.
    script = "import sys, duckstring.catchment.forkserver; print('asyncio' in sys.modules)"
    done = run_script(tmp_path, script)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False"
