"""Fetch one commit of a git repository as a zip archive, with the git CLI and no surprises.

The URL and the ref come from a request, so both are checked before git sees them: only
``https``, ``http``, ``ssh`` and scp-like ``user@host:path`` URLs, and a local repository (an
absolute path or ``file:///path``) only when the caller allows it; nothing that starts with
``-``, no ``ext::``-style transports, and ``--`` before every positional argument. Git runs
without prompts (``GIT_TERMINAL_PROMPT=0``, ssh in batch mode), with ``GIT_ALLOW_PROTOCOL`` as
a second fence (git applies it to local paths too), inside a time limit that kills its whole
process group. A local repository is cloned with ``--no-local``, through git's transport as a
remote one is, so no object file of it is linked or copied as it lies. Nothing is checked out:
the tree leaves the repository via ``git archive``, so a link in it reaches the archive checks
as a link, not as a file on disk.
"""

from __future__ import annotations

import os
import re
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Final
from urllib.parse import unquote, urlsplit

from duckstring.catchment.bounded import run_bounded
from duckstring.catchment.upload import IntakeError, PayloadTooLarge

NETWORK_SCHEMES: Final = ("https", "http", "ssh")
_SCP_LIKE = re.compile(
    r"[A-Za-z0-9_][A-Za-z0-9._-]*@[A-Za-z0-9][A-Za-z0-9.-]*:[A-Za-z0-9_.~/][^:]*"
)
_HOST = re.compile(r"[A-Za-z0-9][A-Za-z0-9.-]*|\[[0-9A-Fa-f:.]+\]")
_SSH_USER = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]*")
#: ``name::address``: git hands the address to the program ``git-remote-name`` (``ext::`` runs
#: a command). git recognises it by a run of scheme characters followed by ``::``.
_TRANSPORT_HELPER = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*::")
_REF = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._/+-]*")
_HEX_REF = re.compile(r"[0-9a-fA-F]{7,64}")
_MAX_REF = 255
_MAX_STDERR = 4000
_ACCEPTED: Final = "is not an https://, http://, ssh:// or user@host:path URL"
_LOCAL_REFUSED: Final = (
    "repo_url: local repositories (a path or file:// URL) are not allowed on this Catchment; "
    "it clones https://, http://, ssh:// and user@host:path URLs "
    "(DUCKSTRING_ALLOW_LOCAL_GIT=1 allows local ones)"
)


@dataclass(frozen=True)
class FetchedArchive:
    """The zip of one commit's tree, the full commit id, and the URL without credentials."""

    archive: bytes
    commit: str
    url: str


def check_repo_url(url: str, *, allow_local: bool = False) -> str:
    """Return ``url`` if it is an accepted repository URL, else raise :class:`IntakeError`.

    A local repository (an absolute path, or ``file:///path``) passes only with
    ``allow_local``: cloning it reads the server's own disk.
    """
    if not isinstance(url, str) or not url:
        raise IntakeError("repo_url: give the repository's URL")
    if any(ord(char) <= 32 or ord(char) == 127 for char in url):
        raise IntakeError("repo_url: spaces and control characters are not allowed")
    if url.startswith("-"):
        raise IntakeError("repo_url: must not start with '-' (git would read it as an option)")
    if _TRANSPORT_HELPER.match(url):
        raise IntakeError("repo_url: git transport syntax ('ext::', 'fd::', ...) is not allowed")
    if "://" in url:
        return _check_url(url, allow_local=allow_local)
    if _SCP_LIKE.fullmatch(url):
        return url
    colon, slash = url.find(":"), url.find("/")
    if colon >= 0 and (slash < 0 or colon < slash):
        # git reads a colon before the first slash as ssh to a host named by what precedes it.
        if url.lower().startswith("file:"):
            raise IntakeError(f"repo_url: write a local repository as file:///path, not {url!r}")
        raise IntakeError(f"repo_url: {redact(url)!r} {_ACCEPTED}")
    return _check_local_path(url, allow_local=allow_local)


def _check_url(url: str, *, allow_local: bool) -> str:
    # git picks the transport by the scheme exactly as written (an unknown one names a
    # remote helper program to run), so the scheme is compared as written, not lower-cased.
    scheme = url.partition("://")[0]
    if scheme == "file":
        if not allow_local:
            raise IntakeError(_LOCAL_REFUSED)
        if not url.startswith(("file:///", "file://localhost/")):
            raise IntakeError("repo_url: a file:// URL names an absolute local path")
        return url
    if scheme not in NETWORK_SCHEMES:
        raise IntakeError(f"repo_url: {redact(url)!r} {_ACCEPTED}")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:  # a bad port or a bad IPv6 literal
        raise IntakeError(
            f"repo_url: {redact(url)!r} does not name a valid host and port"
        ) from None
    user, _, host = parts.netloc.rpartition("@")
    if port is not None or host.endswith(":"):
        host = host.rpartition(":")[0]
    # git percent-decodes a URL before handing its user and host to ssh.
    user = unquote(user.partition(":")[0])
    if not _HOST.fullmatch(host) or user.startswith("-"):
        raise IntakeError(f"repo_url: {redact(url)!r} does not name a valid host")
    if scheme == "ssh" and user and not _SSH_USER.fullmatch(user):
        raise IntakeError(f"repo_url: {redact(url)!r} does not name a valid ssh user")
    return url


def _check_local_path(url: str, *, allow_local: bool) -> str:
    if not allow_local:
        raise IntakeError(_LOCAL_REFUSED)
    if not url.startswith("/"):
        # Relative to the server's working folder, which means nothing to the client.
        raise IntakeError(f"repo_url: name a local repository by its absolute path, not {url!r}")
    return url


def check_ref(ref: str) -> str:
    """Return ``ref`` if it is a plain branch, tag or commit name, else raise."""
    if not isinstance(ref, str) or not ref:
        raise IntakeError("git_ref: give a branch, tag or commit")
    if len(ref) > _MAX_REF or not _REF.fullmatch(ref) or ".." in ref or "//" in ref:
        raise IntakeError(
            f"git_ref {ref[:80]!r}: use a branch, tag or commit name (letters, digits, '.', "
            "'_', '-', '/', '+'; not starting with '-')"
        )
    if ref.endswith((".lock", "/", ".")):
        raise IntakeError(f"git_ref {ref!r} is not a valid branch, tag or commit name")
    return ref


def redact(url: str) -> str:
    """``url`` without a password or token in it (split by hand: a malformed URL too)."""
    scheme, separator, rest = url.partition("://")
    if not separator:
        return url
    end = min((rest.find(mark) for mark in "/?#" if mark in rest), default=len(rest))
    authority = rest[:end]
    if "@" not in authority:
        return url
    return f"{scheme}://***@{authority.rpartition('@')[2]}{rest[end:]}"


def fetch_archive(
    url: str, ref: str, *, allow_local: bool = False, timeout: float = 120.0, max_bytes: int
) -> FetchedArchive:
    """Clone ``ref`` of ``url`` into a temporary folder and return its tree as a zip.

    Branches and tags are cloned shallow; a commit id falls back to a full clone. Raises
    :class:`IntakeError` with git's own message (credentials removed) on any failure.
    """
    check_repo_url(url, allow_local=allow_local)
    check_ref(ref)
    deadline = time.monotonic() + timeout
    protocols = ":".join((*NETWORK_SCHEMES, "file") if allow_local else NETWORK_SCHEMES)
    git = _Git(url, _environment(protocols), deadline)
    with tempfile.TemporaryDirectory(prefix="duckstring-git-") as temp:
        repository = Path(temp) / "shallow.git"
        shallow = git.run(
            ["clone", "--bare", "--quiet", "--no-local", "--depth", "1", "--branch", ref, "--",
             url, str(repository)],
            check=False,
        )  # fmt: skip
        if shallow.returncode == 0:
            target = "HEAD"
        elif _HEX_REF.fullmatch(ref):
            # A commit id cannot be cloned by name: take the whole history, then find it.
            repository = Path(temp) / "full.git"
            git.run(["clone", "--bare", "--quiet", "--no-local", "--", url, str(repository)])
            target = ref
        else:
            raise IntakeError(f"git could not fetch {ref!r} from {redact(url)}: {git.why(shallow)}")
        resolved = git.run(
            ["-C", str(repository), "rev-parse", "--verify", "--quiet", "--end-of-options",
             f"{target}^{{commit}}"],
            check=False,
        )  # fmt: skip
        if resolved.returncode != 0:
            raise IntakeError(f"{redact(url)} has no commit {ref!r}")
        commit = resolved.stdout.decode().strip()
        output = Path(temp) / "tree.zip"
        git.run(["-C", str(repository), "archive", "--format=zip", "-o", str(output), commit])
        size = output.stat().st_size
        if size > max_bytes:
            raise PayloadTooLarge(
                f"{redact(url)} at {ref!r} packs to {size} bytes, over the limit of {max_bytes}"
            )
        return FetchedArchive(output.read_bytes(), commit, redact(url))


def _environment(protocols: str) -> dict[str, str]:
    # The server's own GIT_* settings (GIT_DIR, GIT_SSH_COMMAND, ...) must not steer this clone.
    env = {key: value for key, value in os.environ.items() if not key.startswith("GIT_")}
    env.update(
        GIT_TERMINAL_PROMPT="0",
        GIT_ALLOW_PROTOCOL=protocols,
        GIT_SSH_COMMAND="ssh -o BatchMode=yes",
        GIT_CONFIG_NOSYSTEM="1",
    )
    env.pop("SSH_ASKPASS", None)
    return env


class _Git:
    def __init__(self, url: str, env: dict[str, str], deadline: float) -> None:
        self.url = url
        self.env = env
        self.deadline = deadline

    def run(self, args: list[str], *, check: bool = True) -> subprocess.CompletedProcess[bytes]:
        remaining = self.deadline - time.monotonic()
        if remaining <= 0:
            raise IntakeError(f"git took too long fetching {redact(self.url)}")
        try:
            done = run_bounded(["git", *args], timeout=remaining, env=self.env)
        except subprocess.TimeoutExpired:
            raise IntakeError(f"git took too long fetching {redact(self.url)}") from None
        if check and done.returncode != 0:
            raise IntakeError(f"git {args[0]} failed for {redact(self.url)}: {self.why(done)}")
        return done

    def why(self, done: subprocess.CompletedProcess[bytes]) -> str:
        text = done.stderr.decode("utf-8", "replace").strip()[-_MAX_STDERR:]
        text = text.replace(self.url, redact(self.url))
        return text or f"exit status {done.returncode}"
