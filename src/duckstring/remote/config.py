"""Registrations of Catchments in ``~/.duckstring/config.toml``, kept private (mode 0600).

The home folder can be moved with ``DUCKSTRING_HOME`` (tests use it).
"""

from __future__ import annotations

import json
import os
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

MAX_CATCHMENT_NAME_LENGTH = 64

# Case-preserving, unlike Pond names: a Catchment name is the user's label for a registration
# (``Prod``, ``dev-2``, ``eu.west``), never part of a URL. It is a path component all the same
# (a local Catchment's default root is ``~/.duckstring/NAME``), hence no separators, no ``..``
# and a letter or digit first (no hidden folders, no names read as options).
_CATCHMENT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")


class ConfigError(ValueError):
    """A missing or unusable registration, with a message that says what to do."""


def home() -> Path:
    return Path(os.environ.get("DUCKSTRING_HOME", Path.home() / ".duckstring"))


def config_path() -> Path:
    return home() / "config.toml"


@dataclass
class Registration:
    """One registered Catchment."""

    name: str
    url: str
    root: str | None = None
    host: str | None = None
    port: int | None = None
    key: str | None = None
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def is_local(self) -> bool:
        return self.root is not None


@dataclass
class Config:
    default: str | None = None
    catchments: dict[str, Registration] = field(default_factory=dict)

    def names(self) -> list[str]:
        """The registered names, alphabetically whatever their case (dev, Prod, prod, T)."""
        return sorted(self.catchments, key=lambda name: (name.casefold(), name))

    def resolve(self, name: str | None) -> Registration:
        """The named registration, or the default (the only one is implicitly the default).

        Names are compared exactly: ``Prod`` and ``prod`` are two registrations.
        """
        if name is not None:
            check_catchment_name(name)
            if name not in self.catchments:
                known = ", ".join(self.names()) or "none"
                raise ConfigError(f"no Catchment named {name!r} is registered (known: {known})")
            return self.catchments[name]
        if self.default in self.catchments:
            return self.catchments[self.default]
        if len(self.catchments) == 1:
            return next(iter(self.catchments.values()))
        if not self.catchments:
            raise ConfigError(
                "no Catchment is registered: create one with "
                "`duckstring catchment init -n NAME` or register one with "
                "`duckstring catchment connect -n NAME --path URL`"
            )
        raise ConfigError(
            "several Catchments are registered and none is the default: pass -c NAME or run "
            "`duckstring catchment set-default NAME`"
        )


def catchment_name_problem(name: str) -> str | None:
    """Why ``name`` is not a valid Catchment name, or ``None`` when it is."""
    if not name:
        return "a Catchment name must not be empty"
    if len(name) > MAX_CATCHMENT_NAME_LENGTH:
        return f"Catchment name {name!r} is longer than {MAX_CATCHMENT_NAME_LENGTH} characters"
    rule = "use letters, digits, '_', '-' and '.', starting with a letter or digit"
    if not _CATCHMENT_NAME.fullmatch(name):
        return f"Catchment name {name!r} is not allowed: {rule}"
    if ".." in name:
        return f"Catchment name {name!r} is not allowed: it must not contain '..'"
    return None


def check_catchment_name(name: str) -> str:
    """Return ``name`` if it is a valid Catchment name, else raise ``ConfigError`` saying why."""
    problem = catchment_name_problem(name)
    if problem is not None:
        raise ConfigError(problem)
    return name


def default_root(name: str) -> Path:
    """Where a local Catchment keeps its data unless told otherwise: ``~/.duckstring/NAME``.

    The name is checked first, so the folder is always directly inside the home folder.
    """
    return home() / check_catchment_name(name)


def load() -> Config:
    path = config_path()
    if not path.exists():
        return Config()
    try:
        data = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{path} is not valid TOML: {error}") from None
    config = Config(default=data.get("default"))
    for name, entry in (data.get("catchments") or {}).items():
        config.catchments[name] = Registration(
            name=name,
            url=entry["url"],
            root=entry.get("root"),
            host=entry.get("host"),
            port=entry.get("port"),
            key=entry.get("key"),
            headers=dict(entry.get("headers") or {}),
        )
    return config


def _toml_string(value: str) -> str:
    # A JSON string is a valid TOML basic string (same escapes).
    return json.dumps(value)


def save(config: Config) -> Path:
    """Write the config at mode 0600 (created so, never world-readable in between)."""
    lines: list[str] = []
    if config.default is not None:
        lines.append(f"default = {_toml_string(config.default)}")
    for name, reg in sorted(config.catchments.items()):
        lines.append("")
        lines.append(f"[catchments.{_toml_string(name)}]")
        lines.append(f"url = {_toml_string(reg.url)}")
        for key in ("root", "host", "key"):
            value = getattr(reg, key)
            if value is not None:
                lines.append(f"{key} = {_toml_string(value)}")
        if reg.port is not None:
            lines.append(f"port = {int(reg.port)}")
        if reg.headers:
            pairs = ", ".join(
                f"{_toml_string(k)} = {_toml_string(v)}" for k, v in sorted(reg.headers.items())
            )
            lines.append(f"headers = {{ {pairs} }}")
    path = config_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    os.chmod(path.parent, 0o700)
    temporary = path.with_suffix(".toml.tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write("\n".join(lines) + "\n")
    os.chmod(temporary, 0o600)
    os.replace(temporary, path)
    return path
