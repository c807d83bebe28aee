"""catchment init / start / disconnect of a local Catchment, through the real CLI."""

from __future__ import annotations

import os
import re
import stat
import subprocess
import time
import tomllib
from pathlib import Path

import httpx

from duckstring.pond.archive import zip_project
from e2e.projects import COUNTER, write_pond
from e2e.server import (
    DUCKSTRING,
    Server,
    catchment_init,
    children_of,
    free_port,
    interrupt,
    line_ducks,
    wait_healthy,
    wait_until,
)


def test_init_generates_a_key_start_reuses_it_and_disconnect_purges(tmp_path: Path) -> None:
    helper = Server(root=tmp_path / "unused", home=tmp_path / "home")
    env = helper.environment()
    port = free_port()
    root = tmp_path / "local-root"
    url = f"http://127.0.0.1:{port}"
    both = helper.cli("catchment", "init", "-n", "x", "--key", "k", "--generate-key", check=False)
    assert both.returncode == 1 and "exclude each other" in both.stderr
    init = catchment_init(helper, port, "-n", "local", "--root", str(root), "--generate-key", "-y")
    config_file = tmp_path / "home" / "config.toml"
    assert stat.S_IMODE(config_file.stat().st_mode) == 0o600
    config = tomllib.loads(config_file.read_text())
    key = config["catchments"]["local"]["key"]
    assert config["default"] == "local" and config["catchments"]["local"]["root"] == str(root)
    assert httpx.get(f"{url}/api/status").status_code == 401
    assert "(no Ponds deployed)" in helper.cli("status", "--once").stdout
    out = interrupt(init)
    assert out.count(key) == 1, "the generated key is printed once"
    assert re.search(r"API key .*shown once", out)
    assert (root / "duck.db").exists()

    again = subprocess.Popen(
        [*DUCKSTRING, "catchment", "start", "local"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    wait_healthy(url, again)
    assert (
        httpx.get(f"{url}/api/status", headers={"Authorization": f"Bearer {key}"}).status_code
        == 200
    )
    busy = helper.cli("catchment", "start", "local", check=False)
    assert busy.returncode == 1 and ("already serves" in busy.stderr or "in use" in busy.stderr)
    interrupt(again)

    helper.cli("catchment", "disconnect", "local", "--purge")
    assert not root.exists()
    assert "No Catchment is registered" in helper.cli("catchment", "list").stdout
    assert os.environ.get("DUCKSTRING_HOME") != str(tmp_path / "home")


def forked_ducks(pid: int) -> set[int]:
    """What the forkserver under process ``pid`` has forked and still runs: Ducks and spares."""
    forked = set()
    for child in children_of(pid):
        try:
            is_forkserver = b"forkserver" in Path(f"/proc/{child}/cmdline").read_bytes()
        except OSError:
            continue  # gone meanwhile
        if is_forkserver:
            forked.update(children_of(child))
    return forked


def test_the_duck_knobs_apply_to_a_catchment_the_cli_starts(tmp_path: Path) -> None:
    """``catchment init`` reads the DUCKSTRING_DUCK_* knobs as the ASGI app does: with no spares
    and no linger, nothing waits forked, and a line's Duck stops as soon as its run is done
    (by default two spares wait, and an idle Duck stays a minute)."""
    helper = Server(root=tmp_path / "unused", home=tmp_path / "home")
    port = free_port()
    root = tmp_path / "root"
    init = catchment_init(
        helper,
        port,
        *("-n", "local", "--root", str(root), "-y"),
        env={"DUCKSTRING_DUCK_SPARES": "0", "DUCKSTRING_DUCK_LINGER": "0"},
    )
    try:
        project = write_pond(tmp_path, "numbers", COUNTER, kind="inlet")
        with httpx.Client(base_url=f"http://127.0.0.1:{port}/api", timeout=30) as client:
            files = {"pond": ("pond.zip", zip_project(project), "application/zip")}
            assert client.post("/deploy", files=files).status_code == 200
            assert client.post("/ponds/numbers/pulse").json() == {"ok": True}
            assert wait_until(
                lambda: client.get("/status").json()["ponds"][0]["runs_completed"] >= 1, 60
            ), "the Pulse did not complete"
        assert wait_until(lambda: not line_ducks(root), 15), "the idle Duck stayed"
        assert forked_ducks(init.pid) == set(), "no spare Duck waits"
    finally:
        interrupt(init)


def test_a_catchment_the_cli_starts_stops_a_query_at_duckstring_query_timeout(
    tmp_path: Path,
) -> None:
    helper = Server(root=tmp_path / "unused", home=tmp_path / "home")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    init = catchment_init(
        helper,
        port,
        *("-n", "local", "--root", str(tmp_path / "root"), "-y"),
        env={"DUCKSTRING_QUERY_TIMEOUT": "1.5"},
    )
    try:
        project = write_pond(tmp_path, "numbers", COUNTER, kind="inlet")
        with httpx.Client(base_url=f"{url}/api", timeout=30) as client:
            files = {"pond": ("pond.zip", zip_project(project), "application/zip")}
            assert client.post("/deploy", files=files).status_code == 200
            assert client.post("/ponds/numbers/pulse").json() == {"ok": True}
            deadline = time.monotonic() + 60
            while client.get("/status").json()["ponds"][0]["runs_completed"] < 1:
                assert time.monotonic() < deadline, "the Pulse did not complete"
                time.sleep(0.05)
            endless = "SELECT count(*) FROM range(1000000) a, range(1000000) b, numbers"
            started = time.monotonic()
            answer = client.post("/query", json={"pond": "numbers", "sql": endless})
            took = time.monotonic() - started
        assert answer.status_code == 400
        assert answer.json() == {"detail": "query exceeded 1.5 s"}
        assert 1.5 <= took < 15
    finally:
        interrupt(init)
