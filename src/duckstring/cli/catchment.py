"""``duckstring catchment``: create, start and register Catchments."""

from __future__ import annotations

import secrets
import socket
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from duckstring.cli.config import (
    ConfigError,
    Registration,
    check_registration_name,
    home,
    load,
    save,
)
from duckstring.cli.output import console, expected_errors, fail

catchment_app = typer.Typer(help="Create, start and register Catchments.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(catchment_app, name="catchment")


def parse_headers(values: list[str]) -> dict[str, str]:
    headers: dict[str, str] = {}
    for value in values:
        name, sep, content = value.partition(":")
        if not sep or not name.strip():
            fail(f"bad header {value!r}: write it as 'Name: value'")
        headers[name.strip()] = content.strip()
    return headers


def dial_host(host: str) -> str:
    """The address to reach a server bound on ``host`` from this machine."""
    return "127.0.0.1" if host in ("0.0.0.0", "::", "") else host


def port_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


def serve(registration: Registration) -> None:
    """Run a local Catchment in the foreground until Ctrl+C."""
    import uvicorn

    from duckstring.catchment.app import create_app
    from duckstring.catchment.service import CatchmentConfig, RootBusy, check_root_free

    assert registration.root is not None and registration.port is not None
    host = registration.host or "127.0.0.1"
    root = Path(registration.root)
    try:
        check_root_free(root)
    except RootBusy as error:
        fail(str(error))
    if not port_free(host, registration.port):
        fail(f"port {registration.port} on {host} is in use: pick another with -p PORT")
    url = f"http://{dial_host(host)}:{registration.port}"
    config = CatchmentConfig(root=root, api_key=registration.key, url=url)
    console.print(
        f"Catchment [bold]{escape(registration.name)}[/] serving {escape(str(root))} "
        f"at {url} (Ctrl+C stops)"
    )
    uvicorn.run(create_app(config), host=host, port=registration.port, log_level="warning")


@catchment_app.command("init")
def init(
    name: Annotated[str | None, typer.Option("--name", "-n", help="Registration name")] = None,
    host: Annotated[str, typer.Option(help="Bind address")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", "-p", help="Port of the API and web UI")] = 7474,
    root: Annotated[
        Path | None, typer.Option(help="Where its data lives (default ~/.duckstring/NAME)")
    ] = None,
    key: Annotated[str | None, typer.Option(help="API key the server requires")] = None,
    generate_key: Annotated[
        bool, typer.Option("--generate-key", help="Create a key, print it once and store it")
    ] = False,
    header: Annotated[
        list[str] | None, typer.Option(help="Extra header 'Name: value' (repeatable)")
    ] = None,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Set as default without asking")] = False,
) -> None:
    """Register a local Catchment and start it in the foreground (Ctrl+C stops)."""
    if key and generate_key:
        fail("--key and --generate-key exclude each other: pass one")
    if name is None:
        name = typer.prompt("Catchment name")
    with expected_errors(ConfigError):
        check_registration_name(name)
        config = load()
    if name in config.catchments:
        fail(
            f"a Catchment named {name!r} is already registered: start it with "
            f"`duckstring catchment start {name}`"
        )
    if generate_key:
        key = secrets.token_urlsafe(32)
        console.print(f"API key (shown once, stored for this registration): [bold]{key}[/]")
    root_path = (root or home() / name).expanduser().resolve()
    registration = Registration(
        name=name,
        url=f"http://{dial_host(host)}:{port}",
        root=str(root_path),
        host=host,
        port=port,
        key=key,
        headers=parse_headers(header or []),
    )
    config.catchments[name] = registration
    if config.default is None or config.default not in config.catchments:
        make_default = (
            yes
            or len(config.catchments) == 1
            or typer.confirm(f"Make {name} the default Catchment?", default=True)
        )
    else:
        make_default = yes or typer.confirm(f"Make {name} the default Catchment?", default=False)
    if make_default:
        config.default = name
    path = save(config)
    console.print(f"Registered {escape(name)} in {escape(str(path))}")
    serve(registration)


@catchment_app.command("start")
def start(name: Annotated[str, typer.Argument(help="A registered local Catchment")]) -> None:
    """Start a registered local Catchment again (reusing its stored key)."""
    with expected_errors(ConfigError):
        registration = load().resolve(name)
    if not registration.is_local:
        fail(f"{name} is a remote Catchment ({registration.url}): it runs elsewhere")
    serve(registration)


@catchment_app.command("connect")
def connect_command(
    name: Annotated[str, typer.Option("--name", "-n", help="Registration name")],
    path: Annotated[str, typer.Option("--path", help="URL of the Catchment")],
    key: Annotated[str | None, typer.Option(help="The server's API key")] = None,
    header: Annotated[
        list[str] | None, typer.Option(help="Extra header 'Name: value' (repeatable)")
    ] = None,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Set as default without asking")] = False,
) -> None:
    """Register a Catchment running elsewhere, by URL."""
    if not path.startswith(("http://", "https://")):
        fail(f"bad URL {path!r}: it starts with http:// or https://")
    with expected_errors(ConfigError):
        check_registration_name(name)
        config = load()
    config.catchments[name] = Registration(
        name=name, url=path.rstrip("/"), key=key, headers=parse_headers(header or [])
    )
    if (
        yes
        or len(config.catchments) == 1
        or typer.confirm(f"Make {name} the default Catchment?", default=False)
    ):
        config.default = name
    save(config)
    console.print(f"Registered {escape(name)} at {escape(path)}")
