"""Receiving a deployed Pond: read an upload or a git ref, store the version, discover its Ripples.

- :func:`read_upload` / :func:`read_git` validate the whole project in memory (see
  :mod:`duckstring.catchment.upload`) before a byte reaches the root.
- :func:`check_declared` holds the deploy's form fields to what ``pond.toml`` says.
- :func:`store_version` writes ``ponds/{name}/{version}/`` by staging a complete copy next to it
  and swapping it into place: a reader sees the old version or the new one, never half of one.
- :func:`discover` reads the Ripple topology in a separate Python process, so the author's code
  never runs inside the Catchment.
- :func:`deploy_version` stages, discovers in the staging folder, and swaps only on success, so a
  broken redeploy never replaces a working version.
- :func:`prepare_line` makes a newly deployed line's ledger, so its first run does not wait
  for it.

Errors are :class:`IntakeError` (HTTP 422) or :class:`PayloadTooLarge` (413); each has
``status``.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import json
import os
import shutil
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import duckstring
from duckstring.catchment import gitsource
from duckstring.catchment.bounded import run_bounded
from duckstring.catchment.upload import (
    IntakeError,
    PayloadTooLarge,
    PondSource,
    UploadLimits,
    read_zip,
)
from duckstring.duck.ledger import Ledger
from duckstring.layout import RootLayout
from duckstring.pond.export import fsync_dir
from duckstring.pond.manifest import MANIFEST_FILE, Manifest, ManifestError, load_manifest
from duckstring.pond.ripples import RippleError
from duckstring.pond.semver import SemVer, SemVerError
from duckstring.pond.topology import validate_topology

__all__ = [
    "DeployedVersion",
    "DiscoveryError",
    "IntakeError",
    "PayloadTooLarge",
    "PondSource",
    "UploadLimits",
    "check_declared",
    "deploy_version",
    "discover",
    "discover_folder",
    "prepare_line",
    "read_git",
    "read_upload",
    "store_version",
]

_MAX_ERROR_CHARS: Final = 20_000
# Swaps of version folders are rare and quick; one at a time keeps two redeploys of the same
# version from interleaving their renames.
_SWAP_LOCK = threading.Lock()


class DiscoveryError(IntakeError):
    """The Pond's Ripple module failed discovery; the message carries the author's error."""


@dataclass(frozen=True)
class DeployedVersion:
    """A stored version and its Ripple topology (``[{"name", "parents"}]`` in run order)."""

    path: Path
    topology: list[dict[str, Any]]


def read_upload(data: bytes, limits: UploadLimits | None = None) -> PondSource:
    """Validate an uploaded zip archive of a Pond project; nothing is written anywhere."""
    return read_zip(data, limits or UploadLimits())


def read_git(
    repo_url: str,
    git_ref: str,
    limits: UploadLimits | None = None,
    *,
    allow_local: bool = False,
    timeout: float = 120.0,
) -> PondSource:
    """Fetch ``git_ref`` (branch, tag or commit) of ``repo_url`` and validate it like an upload.

    Accepted URLs: ``https://``, ``http://``, ``ssh://`` and scp-like ``user@host:path``. A
    local repository (an absolute path or ``file:///path``) only with ``allow_local=True``: it
    reads the server's own disk, so it is for a Catchment on the author's own machine. The
    ``.git`` folder is never part of the result.
    """
    limits = limits or UploadLimits()
    fetched = gitsource.fetch_archive(
        repo_url,
        git_ref,
        allow_local=allow_local,
        timeout=timeout,
        max_bytes=limits.max_archive_bytes,
    )
    return read_zip(fetched.archive, limits, origin=fetched.url, commit=fetched.commit)


def check_declared(
    manifest: Manifest,
    name: str | None = None,
    version: str | None = None,
    kind: str | None = None,
) -> None:
    """Refuse form fields (name, version, type) that differ from ``pond.toml``; blanks pass."""
    expected = {"name": manifest.name, "version": str(manifest.version), "type": manifest.type}
    for key, value in (("name", name), ("version", version), ("type", kind)):
        if value is None or value == "":
            continue
        if key == "version":
            try:
                value = str(SemVer.parse(value))
            except SemVerError as error:
                raise IntakeError(f"version: {error}") from None
        if value != expected[key]:
            raise IntakeError(
                f"{key} {value!r} does not match {MANIFEST_FILE} ([pond] {key} = "
                f"{expected[key]!r}); deploy what the manifest says, or change the manifest"
            )


def store_version(layout: RootLayout, source: PondSource) -> Path:
    """Write ``source`` to ``ponds/{name}/{version}/`` atomically and return that folder.

    An existing folder of the same version is replaced (a redeploy overwrites it).
    """
    with _staged(layout, source.manifest) as stage:
        stage.write(source.files.items())
        return stage.commit()


def deploy_version(layout: RootLayout, source: PondSource, timeout: float = 60) -> DeployedVersion:
    """Stage ``source``, discover its Ripples in the staging folder, then swap it into place.

    A module that fails discovery raises :class:`DiscoveryError` and leaves the root exactly
    as it was, including an earlier deploy of the same version.
    """
    with _staged(layout, source.manifest) as stage:
        stage.write(source.files.items())
        topology = discover_folder(
            stage.folder, source.manifest.ripples, timeout, shown_as=stage.target
        )
        return DeployedVersion(stage.commit(), topology)


def prepare_line(layout: RootLayout, name: str, major: int) -> bool:
    """Make the ledger (``pond.db``) of a line that has none yet; False when it has one.

    Its first Duck would make it otherwise, on the way to its first run: a new SQLite file in
    WAL mode and its schema took ~6.5 ms of the ~18 ms from a spare Duck's config to its first
    Ripple. Opening a ledger makes what is missing and nothing else, so a Duck opening it at
    the same moment is safe.
    """
    path = layout.ledger(name, major)
    if path.exists():
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    Ledger(path).close()
    return True


def discover(
    layout: RootLayout, name: str, version: str | SemVer, timeout: float = 60
) -> list[dict[str, Any]]:
    """The Ripple topology of a stored version, read in a separate Python process."""
    folder = layout.version(name, version)
    if not folder.is_dir():
        raise IntakeError(f"{name} {version} is not stored on this Catchment")
    try:
        manifest = load_manifest(folder)
    except ManifestError as error:
        raise IntakeError(str(error)) from None
    return discover_folder(folder, manifest.ripples, timeout)


def discover_folder(
    folder: Path, ripples: str, timeout: float = 60, *, shown_as: Path | None = None
) -> list[dict[str, Any]]:
    """Run ``python -m duckstring.pond.topology RIPPLES`` in ``folder`` and check its answer.

    The child runs with the folder as working directory, without writing bytecode into it and
    without the Catchment's API key in its environment. A raising module, a misused decorator
    or a cycle raise :class:`DiscoveryError` with the author's traceback or message; so does a
    module still importing after ``timeout`` seconds (its whole process group is killed).
    ``shown_as`` replaces ``folder`` in messages (a staging folder shows as its final place).
    """
    env = dict(os.environ)
    env.pop("DUCKSTRING_API_KEY", None)
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    # The child imports the same duckstring as this process, however this one found it.
    package_parent = str(Path(duckstring.__file__).resolve().parent.parent)
    env["PYTHONPATH"] = os.pathsep.join(
        part for part in (package_parent, env.get("PYTHONPATH", "")) if part
    )
    # -P: the project folder is not put first on sys.path, so a project file named like a
    # standard module (json.py) cannot hijack the discovery program itself.
    command = [sys.executable, "-P", "-m", "duckstring.pond.topology", ripples]
    try:
        done = run_bounded(command, timeout=timeout, env=env, cwd=folder)
    except subprocess.TimeoutExpired:
        raise DiscoveryError(
            f"Ripple discovery of {ripples} took longer than {timeout:g} s; module level must "
            "only define functions (no work, no waiting)"
        ) from None
    shown = str(shown_as) if shown_as is not None else None

    def clean(text: bytes) -> str:
        decoded = text.decode("utf-8", "replace").strip()
        if shown is not None:
            decoded = decoded.replace(str(folder), shown)
        return decoded[-_MAX_ERROR_CHARS:]

    if done.returncode != 0:
        problem = clean(done.stderr) or f"exit status {done.returncode}"
        raise DiscoveryError(f"Ripple discovery of {ripples} failed:\n{problem}", problem)
    # The author's module may print at import; the topology is the last line written.
    lines = [line for line in done.stdout.decode("utf-8", "replace").splitlines() if line.strip()]
    try:
        data = json.loads(lines[-1]) if lines else None
        return validate_topology(data, ripples)
    except (json.JSONDecodeError, RippleError) as error:
        raise DiscoveryError(f"Ripple discovery of {ripples} answered nonsense: {error}") from None


# -- staging and the swap ---------------------------------------------------------------------


class _Stage:
    """A complete copy of a version being written next to where it will live."""

    def __init__(self, target: Path, folder: Path) -> None:
        self.target = target
        self.folder = folder
        self.committed = False

    def write(self, files: Iterable[tuple[str, bytes]]) -> None:
        for relative, content in files:
            path = self.folder.joinpath(*relative.split("/"))
            path.parent.mkdir(parents=True, exist_ok=True)
            with open(path, "xb") as handle:
                handle.write(content)
                handle.flush()
                os.fsync(handle.fileno())

    def commit(self) -> Path:
        """Swap the staged copy into place; a previous copy is removed afterwards."""
        with _SWAP_LOCK:
            if not self.target.exists():
                os.rename(self.folder, self.target)
            elif not _exchange(self.folder, self.target):
                # No atomic exchange here: two renames, with a short moment of no folder
                # (never a partial one).
                aside = self.target.with_name(f".{self.target.name}.old-{uuid.uuid4().hex}")
                os.rename(self.target, aside)
                os.rename(self.folder, self.target)
                self.folder = aside
            self.committed = True
            fsync_dir(self.target.parent)
        return self.target


@contextlib.contextmanager
def _staged(layout: RootLayout, manifest: Manifest) -> Iterator[_Stage]:
    target = layout.version(manifest.name, manifest.version)
    created = [path for path in (layout.ponds, target.parent) if not path.exists()]
    target.parent.mkdir(parents=True, exist_ok=True)
    folder = target.with_name(f".{target.name}.staging-{uuid.uuid4().hex}")
    folder.mkdir()
    stage = _Stage(target, folder)
    try:
        yield stage
    finally:
        # After a commit this removes the previous copy; after a failure, the staged one.
        shutil.rmtree(stage.folder, ignore_errors=True)
        if not stage.committed:
            for path in reversed(created):
                with contextlib.suppress(OSError):
                    path.rmdir()


def _exchange(first: Path, second: Path) -> bool:
    """Atomically swap two paths (Linux ``renameat2(RENAME_EXCHANGE)``); False if unsupported."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    except (AttributeError, OSError):
        return False
    at_fdcwd, rename_exchange = -100, 2
    renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p]
    renameat2.argtypes += [ctypes.c_uint]
    result = renameat2(at_fdcwd, os.fsencode(first), at_fdcwd, os.fsencode(second), rename_exchange)
    if result == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP, errno.ENOTSUP):
        return False
    raise OSError(code, os.strerror(code), str(first))
