"""The code of a deployed version, loaded once per version by a Duck.

A Pond Run executes the version it was begun with, so a Duck may hold several versions of its
line at once (an old run finishing after a redeploy). Each is read from its immutable version
folder under the root: the manifest, then the Ripples module imported in isolation.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

from duckstring.engine.ripples import RippleSpec
from duckstring.layout import LayoutError, RootLayout
from duckstring.pond.handle import Pond
from duckstring.pond.manifest import Manifest, load_manifest
from duckstring.pond.names import line_id
from duckstring.pond.topology import Topology, discover_ripples


class VersionError(ValueError):
    """A version folder that does not hold code of this Duck's line."""


@dataclass(frozen=True)
class VersionCode:
    """One deployed version: its manifest, its Ripples, and the handle its Ripples start from."""

    version: str
    manifest: Manifest
    topology: Topology
    base: Pond

    @property
    def specs(self) -> tuple[RippleSpec, ...]:
        return tuple(RippleSpec(r.name, r.parents) for r in self.topology.ripples)

    def function(self, ripple: str) -> Callable[[Any], Any] | None:
        for item in self.topology.ripples:
            if item.name == ripple:
                return item.function
        return None


def load_version(
    layout: RootLayout,
    pond: str,
    major: int,
    version: str,
    con: duckdb.DuckDBPyConnection,
    swap_lock: threading.Lock,
) -> VersionCode:
    """Read ``version`` of ``pond`` from the root and import its Ripples.

    Raises :class:`VersionError` when the folder holds another Pond or another major, and the
    manifest, layout and discovery errors unchanged (each names the file and the problem).
    """
    folder = layout.version(pond, version)
    manifest = load_manifest(folder)
    if manifest.name != pond:
        raise VersionError(f"{folder}: pond.toml names Pond {manifest.name!r}, not {pond!r}")
    if manifest.major != major:
        raise VersionError(
            f"{folder}: version {manifest.version} belongs to major {manifest.major}, "
            f"not to line {line_id(pond, major)}"
        )
    topology = discover_ripples(folder / manifest.ripples)
    majors = {source.name: source.major for source in manifest.sources}

    def resolve_source(source: str, table: str) -> Path:
        # The handle only asks about declared Sources; each is read at the major it declares.
        return layout.table(source, majors[source], table)

    base = Pond(
        pond,
        manifest.version,
        layout.root,
        con,
        resolve_source,
        sources=manifest.source_names,
        swap_lock=swap_lock,
    )
    return VersionCode(str(manifest.version), manifest, topology, base)


class LoadedVersions:
    """The versions of one line a Duck has loaded, each loaded again when its folder was
    replaced since: a redeploy of the same version overwrites it, and the next run must take
    the shipped fix."""

    def __init__(
        self,
        layout: RootLayout,
        pond: str,
        major: int,
        con: duckdb.DuckDBPyConnection,
        swap_lock: threading.Lock,
    ) -> None:
        self.layout = layout
        self.pond = pond
        self.major = major
        self.con = con
        self.swap_lock = swap_lock
        self._codes: dict[str, VersionCode] = {}
        #: Identity of each loaded version's folder (inode, mtime) when its code was loaded.
        self._stamps: dict[str, tuple[int, int]] = {}

    def load(self, version: str) -> VersionCode:
        """The current code of ``version``; raises what :func:`load_version` raises."""
        try:
            info = os.stat(self.layout.version(self.pond, version))
            stamp: tuple[int, int] | None = (info.st_ino, info.st_mtime_ns)
        except (OSError, LayoutError):
            stamp = None  # load_version says what is wrong with it
        code = self._codes.get(version)
        if code is None or stamp is None or self._stamps.get(version) != stamp:
            code = load_version(
                self.layout, self.pond, self.major, version, self.con, self.swap_lock
            )
            self._codes[version] = code
            if stamp is not None:
                self._stamps[version] = stamp
        return code

    def __getitem__(self, version: str) -> VersionCode:
        """The code of ``version`` as last loaded."""
        return self._codes[version]
