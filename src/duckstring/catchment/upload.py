"""Validate an uploaded Pond project (a zip archive) entirely in memory.

Every deploy is untrusted. An archive is accepted only if every entry is a plain relative path
(no ``..``, no absolute path, no backslash or drive letter, no control character), every kept
entry is a regular file (no link, device or pipe, no encryption), no path appears twice, and the
sizes stay inside :class:`UploadLimits`. Sizes are checked twice: on what the headers declare,
and again on the bytes actually decompressed, so a lying header or a zip bomb is stopped either
way. Nothing here writes anywhere; :mod:`duckstring.catchment.intake` stores what passes.
"""

from __future__ import annotations

import io
import stat
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

from duckstring.pond.archive import is_skipped
from duckstring.pond.manifest import MANIFEST_FILE, Manifest, ManifestError, parse_manifest

MiB: Final = 1024 * 1024

_MAX_PATH_CHARS: Final = 1024
_MAX_PART_BYTES: Final = 255
_CHUNK: Final = 256 * 1024


class IntakeError(ValueError):
    """A deploy that cannot be accepted; ``str()`` says what is wrong, ``status`` the HTTP code.

    ``detail`` carries longer text when there is some (the author's traceback).
    """

    status: int = 422

    def __init__(self, message: str, detail: str | None = None) -> None:
        super().__init__(message)
        self.detail = detail


class PayloadTooLarge(IntakeError):
    """A deploy over a size, file-count or compression-ratio limit."""

    status = 413


@dataclass(frozen=True)
class UploadLimits:
    """Bounds on what one deploy may bring.

    ``max_ratio`` is the largest uncompressed/compressed ratio accepted for an entry larger
    than ``ratio_floor`` (source code compresses 3-10x; a block of zeros 1000x).
    """

    max_archive_bytes: int = 50 * MiB
    max_total_bytes: int = 200 * MiB
    max_files: int = 5_000
    max_ratio: int = 100
    ratio_floor: int = 1 * MiB


@dataclass(frozen=True)
class PondSource:
    """A validated Pond project, held in memory and ready to store.

    ``files`` maps relative POSIX paths (from the project root, e.g. ``src/pond.py``) to their
    contents. ``origin`` says where it came from (``upload`` or the git URL, credentials
    removed); ``commit`` is the resolved commit of a git deploy.
    """

    manifest: Manifest
    files: dict[str, bytes]
    origin: str = "upload"
    commit: str | None = None

    @property
    def total_bytes(self) -> int:
        return sum(len(content) for content in self.files.values())


def read_zip(
    data: bytes, limits: UploadLimits, *, origin: str = "upload", commit: str | None = None
) -> PondSource:
    """Validate a zip archive of a Pond project and return its manifest and files.

    The project may sit at the archive's root or inside its one top-level folder (stripped).
    Version control, virtualenvs, caches and ``puddles/`` are skipped. Raises
    :class:`IntakeError` (:class:`PayloadTooLarge` for limits) naming the entry at fault.
    """
    if len(data) > limits.max_archive_bytes:
        raise PayloadTooLarge(
            f"the archive is {_size(len(data))}, over the limit of "
            f"{_size(limits.max_archive_bytes)}"
        )
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        infos = archive.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, EOFError) as error:
        raise IntakeError(f"not a readable zip archive: {error}") from None
    with archive:
        entries = [_Entry(info, _entry_parts(info.filename)) for info in infos]
        files, folders = _split_entries(entries)
        prefix = _project_prefix(files, folders)
        kept = _kept_files(files, prefix, limits)
        contents = _extract(archive, kept, limits)
    manifest = _manifest(contents)
    return PondSource(manifest, contents, origin, commit)


@dataclass(frozen=True)
class _Entry:
    info: zipfile.ZipInfo
    parts: tuple[str, ...]


def _entry_parts(name: str) -> tuple[str, ...]:
    """The path components of an entry name; refuses anything but a plain relative path."""
    shown = repr(name)
    if not name:
        raise IntakeError("an archive entry has an empty name")
    if len(name) > _MAX_PATH_CHARS:
        raise IntakeError(f"entry {shown[:80]}... has a name longer than {_MAX_PATH_CHARS}")
    if any(ord(char) < 32 or ord(char) == 127 for char in name):
        raise IntakeError(f"entry {shown}: control characters in a file name")
    if "\\" in name:
        raise IntakeError(f"entry {shown}: backslashes are not allowed in paths")
    if name.startswith("/"):
        raise IntakeError(f"entry {shown}: absolute paths are not allowed")
    if len(name) >= 2 and name[1] == ":" and name[0].isalpha():
        raise IntakeError(f"entry {shown}: drive letters are not allowed in paths")
    parts = tuple(part for part in name.split("/") if part not in ("", "."))
    if ".." in parts:
        raise IntakeError(f"entry {shown}: '..' would escape the project folder")
    if not parts:
        raise IntakeError(f"entry {shown} names no file")
    for part in parts:
        if len(part.encode("utf-8", "surrogatepass")) > _MAX_PART_BYTES:
            raise IntakeError(f"entry {shown}: a path component is too long")
    return parts


def _entry_mode(info: zipfile.ZipInfo) -> int:
    return (info.external_attr >> 16) & 0xFFFF


def _split_entries(entries: list[_Entry]) -> tuple[list[_Entry], set[tuple[str, ...]]]:
    files: list[_Entry] = []
    folders: set[tuple[str, ...]] = set()
    for entry in entries:
        if entry.info.is_dir():
            folders.add(entry.parts)
        else:
            files.append(entry)
        for depth in range(1, len(entry.parts)):
            folders.add(entry.parts[:depth])
    return files, folders


def _project_prefix(files: list[_Entry], folders: set[tuple[str, ...]]) -> tuple[str, ...]:
    """``()`` when pond.toml is at the root, ``(folder,)`` when in the one top-level folder."""
    paths = {entry.parts for entry in files}
    if (MANIFEST_FILE,) in paths:
        return ()
    tops = {entry.parts[0] for entry in files} | {folder[0] for folder in folders}
    if len(tops) == 1:
        top = next(iter(tops))
        if (top, MANIFEST_FILE) in paths:
            return (top,)
    raise IntakeError(
        f"no {MANIFEST_FILE} in the archive: put it at the archive's root or inside one "
        "top-level project folder"
    )


def _kept_files(
    files: list[_Entry], prefix: tuple[str, ...], limits: UploadLimits
) -> list[tuple[str, zipfile.ZipInfo]]:
    """Files to deploy (prefix stripped), after every check the headers allow."""
    stripped = [(entry.parts[len(prefix) :], entry) for entry in files]
    # A virtualenv under any name is recognised by its pyvenv.cfg.
    venvs = {parts[:-1] for parts, _ in stripped if len(parts) > 1 and parts[-1] == "pyvenv.cfg"}
    kept: list[tuple[str, zipfile.ZipInfo]] = []
    seen: set[str] = set()
    declared_total = 0
    for parts, entry in stripped:
        info = entry.info
        if is_skipped(parts, venvs):
            continue
        path = "/".join(parts)
        _check_regular(path, info)
        if path in seen:
            raise IntakeError(f"entry {path!r} appears twice in the archive")
        seen.add(path)
        if len(seen) > limits.max_files:
            raise PayloadTooLarge(f"the archive holds more than {limits.max_files} files")
        declared_total += info.file_size
        if declared_total > limits.max_total_bytes:
            raise PayloadTooLarge(
                f"the archive unpacks to more than {_size(limits.max_total_bytes)}"
            )
        if info.file_size > limits.ratio_floor and info.file_size > limits.max_ratio * max(
            info.compress_size, 1
        ):
            raise PayloadTooLarge(
                f"entry {path!r} claims {_size(info.file_size)} from "
                f"{_size(info.compress_size)} compressed: a suspicious ratio (zip bomb?)"
            )
        kept.append((path, info))
    for path in seen:
        parent = path.rpartition("/")[0]
        while parent:
            if parent in seen:
                raise IntakeError(f"{parent!r} is both a file and a folder in the archive")
            parent = parent.rpartition("/")[0]
    return kept


def _check_regular(path: str, info: zipfile.ZipInfo) -> None:
    mode = _entry_mode(info)
    kind = stat.S_IFMT(mode)
    if stat.S_ISLNK(mode):
        raise IntakeError(f"entry {path!r} is a symbolic link; links are not allowed")
    if kind not in (0, stat.S_IFREG):
        raise IntakeError(f"entry {path!r} is not a regular file (mode {mode:o})")
    if info.flag_bits & 0x1:
        raise IntakeError(f"entry {path!r} is encrypted")


def _extract(
    archive: zipfile.ZipFile, kept: Iterable[tuple[str, zipfile.ZipInfo]], limits: UploadLimits
) -> dict[str, bytes]:
    """Decompress, counting real bytes: declared sizes are checked, never trusted."""
    contents: dict[str, bytes] = {}
    total = 0
    for path, info in kept:
        buffer = bytearray()
        try:
            with archive.open(info) as stream:
                while chunk := stream.read(_CHUNK):
                    buffer += chunk
                    total += len(chunk)
                    if len(buffer) > info.file_size:
                        raise IntakeError(
                            f"entry {path!r} unpacks to more than its header declares"
                        )
                    if total > limits.max_total_bytes:
                        raise PayloadTooLarge(
                            f"the archive unpacks to more than {_size(limits.max_total_bytes)}"
                        )
                    if len(buffer) > limits.ratio_floor and len(buffer) > limits.max_ratio * max(
                        info.compress_size, 1
                    ):
                        raise PayloadTooLarge(
                            f"entry {path!r} unpacks at a suspicious ratio (zip bomb?)"
                        )
        except (zipfile.BadZipFile, EOFError, OSError, NotImplementedError) as error:
            raise IntakeError(f"entry {path!r} cannot be read: {error}") from None
        except RuntimeError as error:  # zipfile's "encrypted, password required"
            raise IntakeError(f"entry {path!r} cannot be read: {error}") from None
        contents[path] = bytes(buffer)
    return contents


def _manifest(contents: dict[str, bytes]) -> Manifest:
    try:
        manifest = parse_manifest(contents[MANIFEST_FILE], MANIFEST_FILE)
    except ManifestError as error:
        raise IntakeError(str(error)) from None
    if manifest.ripples not in contents:
        raise IntakeError(
            f"{MANIFEST_FILE}: [pond] ripples: {manifest.ripples!r} is not in the project"
        )
    return manifest


def _size(count: int) -> str:
    if count >= MiB:
        return f"{count / MiB:.1f} MiB"
    if count >= 1024:
        return f"{count / 1024:.1f} KiB"
    return f"{count} bytes"
