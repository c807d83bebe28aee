"""``duckstring demo``: a local Catchment with the demo pipeline deployed and flowing."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from duckstring.cli.catchment import check_root_free, port_free, server_knobs
from duckstring.cli.output import console, fail, warn
from duckstring.local.scaffold import DEMO_PONDS, write_demo
from duckstring.pond.archive import zip_project
from duckstring.pond.manifest import load_manifest
from duckstring.remote.client import CatchmentClient, ClientError
from duckstring.remote.config import Registration, load, save


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)


def _free_port(host: str, preferred: int) -> int:
    for port in range(preferred, preferred + 50):
        if port_free(host, port):
            return port
    fail(f"no free port from {preferred} to {preferred + 49} on {host}: pass --port")


def _deploy_and_wave(registration: Registration, folder: Path) -> None:
    client = CatchmentClient(registration, timeout=120)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                client.get("/health")
                break
            except ClientError:
                if time.monotonic() > deadline:
                    warn("the Catchment did not come up; nothing was deployed")
                    return
                time.sleep(0.1)
        for name in DEMO_PONDS:
            project = folder / name
            manifest = load_manifest(project / "pond.toml")
            client.post(
                "/deploy",
                data={
                    "name": manifest.name,
                    "version": str(manifest.version),
                    "type": manifest.type,
                },
                files={"pond": (f"{name}.zip", zip_project(project), "application/zip")},
            )
            console.print(f"  deployed {name} {manifest.version}")
        client.post("/ponds/reports/wave")
        console.print(
            "  wave on reports: the pipeline settles into a ~3 s cadence.\n"
            f"Watch it: duckstring status -c {registration.name}, or open {registration.url}/"
        )
    except ClientError as error:
        warn(f"setting up the demo failed: {error}")
    finally:
        client.close()


def demo(
    path: Annotated[Path, typer.Option(help="Folder for the demo projects and the root")] = Path(
        "duckstring-demo"
    ),
    port: Annotated[int, typer.Option("--port", "-p", help="Preferred port")] = 7474,
) -> None:
    """Start a local Catchment with the demo deployed and a Wave on reports (Ctrl+C stops)."""
    from duckstring.catchment import entry

    knobs = server_knobs()
    folder = path.expanduser().resolve()
    if not (folder / "reports" / "pond.toml").exists():
        folder.mkdir(parents=True, exist_ok=True)
        write_demo(folder)
        console.print(f"Wrote the demo Ponds into {escape(str(folder))}")
    root = folder / ".duckstring"
    check_root_free(root)
    host = "127.0.0.1"
    chosen = _free_port(host, port)
    registration = Registration(
        name="demo", url=f"http://{host}:{chosen}", root=str(root), host=host, port=chosen
    )
    config = load()
    config.catchments["demo"] = registration
    if config.default is None:
        config.default = "demo"
    save(config)
    console.print(
        f"Catchment demo serving {escape(str(root))} at {registration.url} (Ctrl+C stops)"
    )
    threading.Thread(target=_deploy_and_wave, args=(registration, folder), daemon=True).start()
    entry.serve_root(root, host=host, port=chosen, url=registration.url, key=None, knobs=knobs)
