"""``pond deploy --git REF``: the Catchment clones the ref of the project's ``origin`` remote.

The repository is served over smart HTTP on loopback by git's own ``http-backend``, so the
Catchment fetches it as it would from a hosted git service.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

from e2e.githttp import GitHttpServer, git
from e2e.projects import COUNTER, write_pond
from e2e.server import Server

OTHER = """
@ripple
def uncommitted(pond):
    pond.write_table("uncommitted", pond.con.sql("SELECT 1 AS n"))
"""


def repository(tmp_path: Path, served: Path, remote: str) -> tuple[Path, str]:
    """A Pond project committed and tagged ``v1``, pushed to a bare repository under ``served``."""
    project = write_pond(tmp_path, "source", COUNTER, kind="inlet")
    git("init", "-q", "-b", "main", cwd=project)
    git("add", "-A", cwd=project)
    git("commit", "-q", "-m", "first", cwd=project)
    git("tag", "v1", cwd=project)
    commit = git("rev-parse", "HEAD", cwd=project)
    git("clone", "-q", "--bare", str(project), str(served / "source.git"), cwd=tmp_path)
    git("remote", "add", "origin", f"{remote}/source.git", cwd=project)
    return project, commit


def test_deploy_git_ref_clones_the_committed_tree(server: Server, tmp_path: Path) -> None:
    served = tmp_path / "served"
    served.mkdir()
    with GitHttpServer(served) as origin:
        project, commit = repository(tmp_path, served, origin.url)
        # Work in progress that was never committed must not reach the Catchment.
        (project / "src" / "pond.py").write_text(
            "from duckstring import ripple\n" + textwrap.dedent(OTHER)
        )
        server.connect_cli()
        out = server.cli("pond", "deploy", "--git", "v1", "-y", cwd=project)
        assert "deployed source@1 1.0.0 (numbers)" in out.stdout, out.stdout
        assert any("git-upload-pack" in line for line in origin.requests)

        stored = server.root / "ponds" / "source" / "1.0.0"
        assert "def numbers" in (stored / "src" / "pond.py").read_text()
        assert not (stored / ".git").exists()

        # A commit id works too (a full clone), and the deployed Pond runs.
        again = server.cli("pond", "deploy", "--git", commit, "-y", cwd=project)
        assert "deployed source@1 1.0.0 (numbers)" in again.stdout
        server.cli("trigger", "pulse", "source", "--silent")
        server.wait_for(
            lambda client: client.get("/status").json()["ponds"][0]["runs_completed"] >= 1,
            what="the Pond deployed from git to run",
        )

        missing = server.cli(
            "pond", "deploy", "--git", "no-such-tag", "-y", cwd=project, check=False
        )
        assert missing.returncode == 1
        assert "git could not fetch 'no-such-tag'" in missing.stderr
        assert "Traceback" not in missing.stderr
        hostile = server.cli("pond", "deploy", "--git", "--upload-pack=x", "-y", cwd=project,
                             check=False)  # fmt: skip
        assert hostile.returncode != 0 and "Traceback" not in hostile.stderr


def test_deploy_git_without_an_origin_says_so(server: Server, tmp_path: Path) -> None:
    project = write_pond(tmp_path, "source", COUNTER, kind="inlet")
    server.connect_cli()
    out = server.cli("pond", "deploy", "--git", "main", "-y", cwd=project, check=False)
    assert out.returncode == 1
    assert "has no git remote 'origin' to deploy from" in out.stderr
    assert "Traceback" not in out.stderr
