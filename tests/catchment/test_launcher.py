"""The Launcher forks Ducks from its forkserver without re-running the Catchment's own script."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

from duckstring.duck.worker import URL_ENV

#: A Catchment started from a script (as the ``duckstring`` console script starts one): it
#: leaves a mark each time it is imported, then forks one Duck that stops at once (no URL).
SCRIPT = textwrap.dedent(
    """
    import sys
    from pathlib import Path

    Path(sys.argv[1], "imported-as-" + __name__).touch()

    if __name__ == "__main__":
        from duckstring.catchment.launcher import Launcher
        from duckstring.duck.worker import DuckConfig

        def config(line, name, major, version, commands):
            return DuckConfig(root=sys.argv[1], pond=name, major=major, url="")

        launcher = Launcher(config)
        duck = launcher.spawn("p@1", "p", 1)
        duck.process.join(60)
        print("exit", duck.process.exitcode)
    """
)


def test_a_duck_does_not_rerun_the_catchments_script(tmp_path: Path) -> None:
    # multiprocessing re-runs a script __main__ in every child as __mp_main__ so that objects
    # defined there can be unpickled; a Duck needs none of them, and the duckstring console
    # script would import the whole CLI into every Duck (~100 ms and ~20 MiB each).
    script = tmp_path / "catchment_script.py"
    script.write_text(SCRIPT)
    env = {key: value for key, value in os.environ.items() if key != URL_ENV}
    done = subprocess.run(
        [sys.executable, str(script), str(tmp_path)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "exit 1" in done.stdout  # the Duck ran, and refused to start without a URL
    assert "no Catchment URL" in done.stderr
    marks = sorted(path.name for path in tmp_path.glob("imported-as-*"))
    assert marks == ["imported-as-__main__"]
