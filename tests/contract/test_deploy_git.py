"""``POST /api/deploy`` from git: which repository URLs a Catchment clones.

Network URLs (here: smart HTTP from git's own ``http-backend`` on loopback) always; a local path
or ``file://`` URL only when local clones are allowed: by ``DUCKSTRING_ALLOW_LOCAL_GIT=1`` for the
packaged app, and always for a Catchment that ``duckstring catchment init`` starts. A URL that
git would read as an option or a transport helper is refused everywhere. A refusal is a 422 that
names its reason, and the root is left exactly as it was.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from e2e.githttp import GitHttpServer, git
from e2e.projects import COUNTER, write_pond
from e2e.server import Server, catchment_init, children_of, free_port, interrupt

FIELDS = {"name": "source", "version": "1.0.0", "type": "inlet", "git_ref": "main"}
DEPLOYED = {
    "ok": True,
    "id": "source@1",
    "name": "source",
    "version": "1.0.0",
    "major": 1,
    "ripples": ["numbers"],
    "replaced": False,
}
LOCAL_REFUSED = "DUCKSTRING_ALLOW_LOCAL_GIT=1"
#: Refused on every Catchment, with the reason the answer names.
HOSTILE = {
    "-oProxyCommand=touch%20/tmp/pwned": "must not start with '-'",
    "--upload-pack=touch": "must not start with '-'",
    "ext::sh": "transport syntax",
    "fd::17": "transport syntax",
    "file::/tmp": "transport syntax",
}


def listing(root: Path) -> dict[str, tuple[int, int]]:
    """Every path under ``root`` with its size and mtime (ns): any write changes it."""
    return {
        path.relative_to(root).as_posix(): (path.lstat().st_size, path.lstat().st_mtime_ns)
        for path in sorted(root.rglob("*"))
    }


@pytest.fixture
def bare(tmp_path: Path) -> Path:
    """A bare repository holding one commit of an inlet Pond project on ``main``."""
    project = write_pond(tmp_path / "work", "source", COUNTER, kind="inlet")
    git("init", "-q", "-b", "main", cwd=project)
    git("add", "-A", cwd=project)
    git("commit", "-q", "-m", "first", cwd=project)
    served = tmp_path / "served"
    served.mkdir()
    git("clone", "-q", "--bare", str(project), str(served / "source.git"), cwd=tmp_path)
    return served / "source.git"


def start(tmp_path: Path, name: str, env: dict[str, str]) -> Iterator[Server]:
    (tmp_path / name).mkdir()
    running = Server(root=tmp_path / name / "root", home=tmp_path / name / "home", env=env)
    running.start()
    yield running
    pid = running.pid
    running.stop()
    assert not children_of(pid), "the Catchment left worker processes behind"


@pytest.fixture
def hosted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Server]:
    """The packaged app with ``DUCKSTRING_ALLOW_LOCAL_GIT`` unset."""
    monkeypatch.delenv("DUCKSTRING_ALLOW_LOCAL_GIT", raising=False)
    yield from start(tmp_path, "hosted", {})


@pytest.fixture
def allowing(tmp_path: Path) -> Iterator[Server]:
    """The packaged app with ``DUCKSTRING_ALLOW_LOCAL_GIT=1``."""
    yield from start(tmp_path, "allowing", {"DUCKSTRING_ALLOW_LOCAL_GIT": "1"})


def deploy(client: httpx.Client, repo_url: str, **fields: Any) -> httpx.Response:
    return client.post("/deploy", json={**FIELDS, "repo_url": repo_url, **fields})


def assert_refused(server: Server, repo_url: str, reason: str) -> None:
    """A 422 naming ``reason``, with the root untouched and the version unknown."""
    before = listing(server.root)
    with server.client() as client:
        answer = deploy(client, repo_url)
        assert answer.status_code == 422, (repo_url, answer.text)
        detail = answer.json()["detail"]
        assert isinstance(detail, str) and reason in detail, (repo_url, detail)
        assert client.get("/ponds/source/versions/1.0.0").status_code == 404
    assert listing(server.root) == before, f"refusing {repo_url!r} wrote to the root"


def test_a_hosted_catchment_refuses_local_repositories_and_writes_nothing(
    hosted: Server, bare: Path
) -> None:
    for url in (f"file://{bare}", f"file://localhost{bare}", str(bare), "source.git", "~/x"):
        assert_refused(hosted, url, LOCAL_REFUSED)
    assert_refused(hosted, f"file:{bare}", "file:///path")
    for url, reason in HOSTILE.items():
        assert_refused(hosted, url, reason)


def test_local_clones_deploy_when_allowed_and_dash_urls_stay_refused(
    allowing: Server, bare: Path
) -> None:
    with allowing.client() as client:
        answer = deploy(client, f"file://{bare}")
        assert answer.status_code == 200, answer.text
        assert answer.json() == DEPLOYED
        again = deploy(client, str(bare))
        assert again.status_code == 200, again.text
        assert again.json() == {**DEPLOYED, "replaced": True}
        version = client.get("/ponds/source/versions/1.0.0")
        assert version.json() == {"name": "source", "version": "1.0.0", "is_active": True}
    stored = allowing.root / "ponds" / "source" / "1.0.0"
    assert "def numbers" in (stored / "src" / "pond.py").read_text()
    assert not (stored / ".git").exists()

    # Refusals after a deploy: the stored version must stay exactly as it is.
    before = listing(allowing.root)
    with allowing.client() as client:
        for url, reason in {**HOSTILE, "source.git": "absolute path"}.items():
            answer = deploy(client, url)
            assert answer.status_code == 422, (url, answer.text)
            assert reason in answer.json()["detail"], (url, answer.text)
    assert listing(allowing.root) == before


def test_an_http_repository_deploys_and_a_malformed_url_is_a_422(
    hosted: Server, bare: Path
) -> None:
    assert_refused(
        hosted, "http://127.0.0.1:port/source.git", "does not name a valid host and port"
    )
    assert_refused(hosted, "ftp://127.0.0.1/source.git", "is not an https://")
    with GitHttpServer(bare.parent) as origin, hosted.client() as client:
        answer = deploy(client, f"{origin.url}/source.git")
        assert answer.status_code == 200, answer.text
        assert answer.json() == DEPLOYED
        assert any("git-upload-pack" in line for line in origin.requests)


def test_a_catchment_started_by_catchment_init_clones_a_local_repository(
    tmp_path: Path, bare: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DUCKSTRING_ALLOW_LOCAL_GIT", raising=False)
    # The project's origin is a path relative to its working tree: the CLI sends it absolute.
    project = tmp_path / "work" / "source-1.0.0"
    git("remote", "add", "origin", "../../served/source.git", cwd=project)
    helper = Server(root=tmp_path / "unused", home=tmp_path / "home")
    port = free_port()
    root = tmp_path / "local-root"
    init = catchment_init(helper, port, "-n", "local", "--root", str(root), "-y")
    try:
        out = helper.cli("pond", "deploy", "--git", "main", "-y", cwd=project)
        assert "deployed source@1 1.0.0 (numbers)" in out.stdout, out.stdout + out.stderr
        assert "def numbers" in (root / "ponds/source/1.0.0/src/pond.py").read_text()
    finally:
        interrupt(init)
    assert not children_of(init.pid)
