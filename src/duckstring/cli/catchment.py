"""``duckstring catchment``: create, start and register Catchments."""

from __future__ import annotations

import secrets
import shutil
import socket
import tarfile
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)
from rich.table import Table

from duckstring.cli.output import console, expected_errors, fail
from duckstring.remote.config import (
    Config,
    ConfigError,
    Registration,
    check_catchment_name,
    config_path,
    default_root,
    load,
    save,
)

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


LauncherOption = Annotated[
    str | None,
    typer.Option(
        "--launcher",
        help="How Ducks start: local (forked here) or ray (actors on a Ray cluster); "
        "default: DUCKSTRING_LAUNCHER, else local",
    ),
]
RayAddressOption = Annotated[
    str | None,
    typer.Option(
        "--ray-address",
        help="The Ray cluster (auto, or HOST:PORT); default: DUCKSTRING_RAY_ADDRESS, else a "
        "local Ray started with the Catchment",
    ),
]


def server_knobs(launcher: str | None = None, ray_address: str | None = None) -> Mapping[str, Any]:
    """The ``DUCKSTRING_*`` knobs of a Catchment this command starts, read before anything is
    registered or written, so a bad value ends the command with one line and changes nothing.
    ``launcher`` and ``ray_address``, given, take the place of their variables.

    The server is imported here, when a command is about to start one, and only through its
    one entry (:mod:`duckstring.catchment.entry`); every other command is an HTTP client.
    """
    from duckstring.catchment import entry

    given: dict[str, Any] = {}
    if launcher is not None:
        if launcher.strip().lower() not in entry.LAUNCHERS:
            fail(f"--launcher must be {' or '.join(entry.LAUNCHERS)}, not {launcher!r}")
        given["launcher"] = launcher.strip().lower()
    if ray_address:
        given["ray_address"] = ray_address
    try:
        return entry.read_knobs(**given)
    except entry.SettingError as error:
        fail(str(error))


def check_root_free(root: Path, *, then: str = "") -> None:
    """End the command if a Catchment serves ``root`` now (``then``: what the user does next)."""
    from duckstring.catchment import entry

    try:
        entry.check_root_free(root)
    except entry.RootBusy as error:
        fail(f"{error}{then}")


def serve(registration: Registration, knobs: Mapping[str, Any]) -> None:
    """Run a local Catchment in the foreground until Ctrl+C."""
    from duckstring.catchment import entry

    assert registration.root is not None and registration.port is not None
    host = registration.host or "127.0.0.1"
    root = Path(registration.root)
    check_root_free(root)
    if not port_free(host, registration.port):
        fail(f"port {registration.port} on {host} is in use: pick another with -p PORT")
    url = f"http://{dial_host(host)}:{registration.port}"
    console.print(
        f"Catchment [bold]{escape(registration.name)}[/] serving {escape(str(root))} "
        f"at {url} (Ctrl+C stops)"
    )
    entry.serve_root(
        root, host=host, port=registration.port, url=url, key=registration.key, knobs=knobs
    )


def check_root_usable(root: Path, config: Config) -> None:
    """Refuse a root that is a file, or the data of another registered Catchment.

    Roots are compared case-insensitively: on a case-insensitive disk (macOS, Windows) the
    roots of ``Prod`` and ``prod`` are one folder.
    """
    config_file = str(config_path().resolve()).casefold()
    # The config file and its temporary copy: a Catchment named config.toml must not take them.
    reserved = (config_file, config_file + ".tmp")
    if str(root).casefold() in reserved or (root.exists() and not root.is_dir()):
        fail(f"{root} is not a folder a Catchment can keep its data in: choose --root")
    for other in config.catchments.values():
        if other.root is not None and str(Path(other.root)).casefold() == str(root).casefold():
            fail(
                f"Catchment {other.name!r} already keeps its data in {other.root}: "
                "choose another name or --root"
            )


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
    launcher: LauncherOption = None,
    ray_address: RayAddressOption = None,
) -> None:
    """Register a local Catchment and start it in the foreground (Ctrl+C stops)."""
    if key and generate_key:
        fail("--key and --generate-key exclude each other: pass one")
    knobs = server_knobs(launcher, ray_address)
    if name is None:
        name = typer.prompt("Catchment name")
    with expected_errors(ConfigError):
        check_catchment_name(name)
        config = load()
        root_path = (root or default_root(name)).expanduser().resolve()
    if name in config.catchments:
        fail(
            f"a Catchment named {name!r} is already registered: start it with "
            f"`duckstring catchment start {name}`"
        )
    check_root_usable(root_path, config)
    if generate_key:
        key = secrets.token_urlsafe(32)
        console.print(f"API key (shown once, stored for this registration): [bold]{key}[/]")
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
    serve(registration, knobs)


@catchment_app.command("start")
def start(
    name: Annotated[str, typer.Argument(help="A registered local Catchment")],
    launcher: LauncherOption = None,
    ray_address: RayAddressOption = None,
) -> None:
    """Start a registered local Catchment again (reusing its stored key)."""
    knobs = server_knobs(launcher, ray_address)
    with expected_errors(ConfigError):
        registration = load().resolve(name)
    if not registration.is_local:
        fail(f"{name} is a remote Catchment ({registration.url}): it runs elsewhere")
    serve(registration, knobs)


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
        check_catchment_name(name)
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


@catchment_app.command("list")
def list_command() -> None:
    """Every registered Catchment; ● marks the default."""
    with expected_errors(ConfigError):
        config = load()
    if not config.catchments:
        console.print(
            "No Catchment is registered. Create a local one with "
            "`duckstring catchment init -n NAME`, or register a running one with "
            "`duckstring catchment connect -n NAME --path URL`."
        )
        return
    implicit = config.default if config.default in config.catchments else None
    if implicit is None and len(config.catchments) == 1:
        implicit = next(iter(config.catchments))
    table = Table("", "name", "url", "kind", "key", box=None)
    for name in config.names():
        reg = config.catchments[name]
        kind = f"local: {reg.root}" if reg.is_local else "remote"
        table.add_row(
            "●" if name == implicit else "",
            escape(name),
            escape(reg.url),
            escape(kind),
            "yes" if reg.key else "-",
        )
    console.print(table)


@catchment_app.command("set-default")
def set_default(name: Annotated[str, typer.Argument(help="A registered Catchment")]) -> None:
    """Make NAME the default Catchment."""
    with expected_errors(ConfigError):
        config = load()
        config.resolve(name)
    config.default = name
    save(config)
    console.print(f"{escape(name)} is the default Catchment")


@catchment_app.command("disconnect")
def disconnect(
    name: Annotated[str, typer.Argument(help="A registered Catchment")],
    purge: Annotated[
        bool, typer.Option("--purge", help="Delete a local Catchment's root without asking")
    ] = False,
) -> None:
    """Unregister NAME; for a local one, offer to delete its root."""
    with expected_errors(ConfigError):
        config = load()
        registration = config.resolve(name)
    if registration.is_local and registration.root is not None:
        root = Path(registration.root)
        if root.exists() and (purge or typer.confirm(f"Delete its data in {root}?", default=False)):
            check_root_free(root, then="; stop it before deleting its data")
            shutil.rmtree(root)
            console.print(f"deleted {escape(str(root))}")
    del config.catchments[name]
    if config.default == name:
        config.default = None
    save(config)
    console.print(f"unregistered {escape(name)}")


@catchment_app.command("download")
def download(
    catchment: Annotated[
        str | None, typer.Option("--catchment", "-c", help="Registered Catchment")
    ] = None,
    path: Annotated[Path, typer.Option(help="Where to unpack the root")] = Path(".duckstring"),
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation")] = False,
) -> None:
    """Download the whole root into PATH, where it starts as a working Catchment.

    Databases come as consistent snapshots; download while no run is in flight.
    """
    from duckstring.cli.common import connect

    target = path.expanduser().resolve()
    if target.exists() and any(target.iterdir()):
        fail(f"{target} is not empty: choose another --path or empty it first")
    with connect(catchment) as client:
        usage = client.get("/catchment/usage")
        size = usage["archive_bytes"]
        console.print(f"{client.base}: {usage['file_count']} files, {_human(usage['total_bytes'])}")
        if not yes and not typer.confirm(f"Download {_human(size)} into {target}?", default=True):
            raise typer.Exit(1)
        target.mkdir(parents=True, exist_ok=True)
        partial = target / ".download.tar"
        with (
            client.http.stream("GET", "/api/catchment/archive", timeout=None) as response,
            open(partial, "wb") as out,
            Progress(
                TextColumn("downloading"),
                BarColumn(),
                DownloadColumn(),
                TransferSpeedColumn(),
                TimeRemainingColumn(),
                console=console,
                transient=True,
            ) as progress,
        ):
            if response.status_code != 200:
                partial.unlink(missing_ok=True)
                fail(f"the Catchment answered {response.status_code} to the archive request")
            task = progress.add_task("archive", total=size)
            for chunk in response.iter_bytes():
                out.write(chunk)
                progress.update(task, advance=len(chunk))
        with tarfile.open(partial) as tar:
            tar.extractall(target, filter="data")
        partial.unlink()
    console.print(
        f"downloaded into {escape(str(target))}; start it with "
        f"DUCKSTRING_ROOT={escape(str(target))} uvicorn duckstring.catchment.asgi:app"
    )


def _human(size: int) -> str:
    value = float(size)
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if value < 1024 or unit == "TB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} B"
