import functools
import io
import os
import stat
import struct
import subprocess
import textwrap
import warnings
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

from duckstring.catchment.gitsource import check_ref, check_repo_url
from duckstring.catchment.intake import (
    DiscoveryError,
    IntakeError,
    PayloadTooLarge,
    PondSource,
    UploadLimits,
    check_declared,
    deploy_version,
    discover,
    prepare_line,
    read_git,
    read_upload,
    store_version,
)
from duckstring.duck.ledger import RUNNING, Ledger, RunRow
from duckstring.layout import RootLayout

MiB = 1024 * 1024

MANIFEST = """\
[pond]
name = "sales"
version = "1.2.0"
type = "pond"

[sources]
transactions = "1.0.0"
"""

RIPPLES = """\
from duckstring import ripple

@ripple
def orders(pond):
    pass

@ripple(parents=[orders])
def totals(pond):
    pass
"""

GOOD = {"pond.toml": MANIFEST, "src/pond.py": RIPPLES, "README.md": "# sales\n"}


def make_zip(entries: dict[str, str | bytes], *, prefix: str = "") -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in entries.items():
            archive.writestr(prefix + name, content)
    return buffer.getvalue()


def with_entry(info: zipfile.ZipInfo, content: bytes = b"x") -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, text in GOOD.items():
            archive.writestr(name, text)
        archive.writestr(info, content)
    return buffer.getvalue()


def unix_entry(name: str, mode: int) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name)
    info.create_system = 3
    info.external_attr = mode << 16
    return info


def listing(root: Path) -> list[tuple[str, int, bytes]]:
    """Every path under the root, with its size and (for files) its content."""
    found = []
    for path in sorted(root.rglob("*")):
        data = path.read_bytes() if path.is_file() else b""
        found.append((path.relative_to(root).as_posix(), len(data), data))
    return found


@pytest.fixture
def layout(tmp_path: Path) -> RootLayout:
    """A root that already holds one deployed version, so 'unchanged' means something."""
    layout = RootLayout(tmp_path / "root")
    store_version(layout, read_upload(make_zip(GOOD)))
    return layout


# -- hostile archives -------------------------------------------------------------------------


@functools.cache
def zeros_zip(size: int, name: str = "data.bin") -> bytes:
    buffer = io.BytesIO()
    # Level 1 is 4x faster on zeros and still a bomb: 200 MiB in under 1 MiB.
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        for entry, text in GOOD.items():
            archive.writestr(entry, text)
        with archive.open(name, "w") as stream:
            block = bytes(MiB)
            for _ in range(size // MiB):
                stream.write(block)
    return buffer.getvalue()


def lying_header_zip() -> bytes:
    """A 5 MiB entry whose local and central headers both claim 1000 bytes."""
    data = bytearray(zeros_zip(5 * MiB, "a_big.bin"))
    local = data.index(b"PK\x03\x04")
    while True:
        name_len = struct.unpack_from("<H", data, local + 26)[0]
        name = bytes(data[local + 30 : local + 30 + name_len])
        if name == b"a_big.bin":
            struct.pack_into("<I", data, local + 22, 1000)
            break
        local = data.index(b"PK\x03\x04", local + 4)
    central = data.index(b"PK\x01\x02")
    while True:
        name_len = struct.unpack_from("<H", data, central + 28)[0]
        name = bytes(data[central + 46 : central + 46 + name_len])
        if name == b"a_big.bin":
            struct.pack_into("<I", data, central + 24, 1000)
            break
        central = data.index(b"PK\x01\x02", central + 4)
    return bytes(data)


def duplicate_zip() -> bytes:
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with zipfile.ZipFile(buffer, "w") as archive:
            for name, text in GOOD.items():
                archive.writestr(name, text)
            archive.writestr("src/pond.py", "import os\nos.system('evil')\n")
    return buffer.getvalue()


SMALL = UploadLimits(max_archive_bytes=2 * MiB, max_total_bytes=10 * MiB, max_files=5)

HOSTILE: dict[str, tuple[Callable[[], bytes], UploadLimits, str]] = {
    "dot-dot": (lambda: make_zip({**GOOD, "../x": "x"}), UploadLimits(), "'..'"),
    "dot-dot-inside": (lambda: make_zip({**GOOD, "src/../../x": "x"}), UploadLimits(), "'..'"),
    "absolute": (lambda: make_zip({**GOOD, "/etc/cron.d/x": "x"}), UploadLimits(), "absolute"),
    "backslash": (lambda: make_zip({**GOOD, "..\\..\\x": "x"}), UploadLimits(), "backslash"),
    "drive-letter": (lambda: make_zip({**GOOD, "C:/x": "x"}), UploadLimits(), "drive"),
    "symlink": (
        lambda: with_entry(unix_entry("src/helpers.py", stat.S_IFLNK | 0o777), b"/etc/passwd"),
        UploadLimits(),
        "symbolic link",
    ),
    "fifo": (
        lambda: with_entry(unix_entry("src/pipe", stat.S_IFIFO | 0o644)),
        UploadLimits(),
        "not a regular file",
    ),
    "zip-bomb-total": (lambda: zeros_zip(200 * MiB), SMALL, "unpacks to more than"),
    "zip-bomb-ratio": (
        lambda: zeros_zip(200 * MiB),
        UploadLimits(max_total_bytes=1024 * MiB),
        "suspicious ratio",
    ),
    "lying-header": (lying_header_zip, UploadLimits(), "a_big.bin"),
    "oversize": (
        lambda: make_zip({**GOOD, "blob.bin": os.urandom(3 * MiB)}),
        SMALL,
        "over the limit",
    ),
    "too-many-files": (
        lambda: make_zip({**GOOD, **{f"src/m{i}.py": "" for i in range(10)}}),
        SMALL,
        "more than 5 files",
    ),
    "duplicate": (duplicate_zip, UploadLimits(), "appears twice"),
    "file-and-folder": (lambda: make_zip({**GOOD, "src": "x"}), UploadLimits(), "both"),
    "no-manifest": (lambda: make_zip({"src/pond.py": RIPPLES}), UploadLimits(), "no pond.toml"),
    "bad-manifest": (
        lambda: make_zip({**GOOD, "pond.toml": MANIFEST.replace("1.2.0", "1.2")}),
        UploadLimits(),
        "pond.toml: [pond] version",
    ),
    "bad-toml": (
        lambda: make_zip({**GOOD, "pond.toml": "[pond\nname="}),
        UploadLimits(),
        "pond.toml: invalid TOML",
    ),
    "no-ripples-module": (
        lambda: make_zip({"pond.toml": MANIFEST}),
        UploadLimits(),
        "src/pond.py",
    ),
    "two-top-folders": (
        lambda: make_zip({"a/pond.toml": MANIFEST, "b/src/pond.py": RIPPLES}),
        UploadLimits(),
        "no pond.toml",
    ),
    "not-a-zip": (lambda: b"this is not a zip", UploadLimits(), "not a readable zip"),
}


@pytest.mark.parametrize("case", list(HOSTILE))
def test_hostile_archive_is_refused_and_the_root_is_unchanged(
    layout: RootLayout, case: str
) -> None:
    build, limits, message = HOSTILE[case]
    data = build()
    before = listing(layout.root)
    with pytest.raises(IntakeError) as raised:
        store_version(layout, read_upload(data, limits))
    assert message in str(raised.value)
    assert listing(layout.root) == before


@pytest.mark.parametrize("case", ["zip-bomb-total", "zip-bomb-ratio", "oversize", "too-many-files"])
def test_limits_map_to_payload_too_large(case: str) -> None:
    build, limits, _ = HOSTILE[case]
    with pytest.raises(PayloadTooLarge) as raised:
        read_upload(build(), limits)
    assert raised.value.status == 413


def test_a_bad_path_is_a_422() -> None:
    with pytest.raises(IntakeError) as raised:
        read_upload(make_zip({**GOOD, "../x": "x"}))
    assert raised.value.status == 422
    assert not isinstance(raised.value, PayloadTooLarge)


def test_zip_bomb_is_refused_from_headers_before_decompressing() -> None:
    data = zeros_zip(200 * MiB)
    assert len(data) < MiB  # 200 MiB of zeros in a few hundred KiB
    with pytest.raises(PayloadTooLarge, match="suspicious ratio"):
        read_upload(data, UploadLimits(max_total_bytes=1024 * MiB))


# -- good archives ----------------------------------------------------------------------------


def test_good_archive_in_a_top_folder_is_stored_without_tooling_folders(tmp_path: Path) -> None:
    layout = RootLayout(tmp_path / "root")
    entries = {
        **GOOD,
        "src/helpers.py": "X = 1\n",
        ".git/config": "[core]",
        "src/__pycache__/pond.cpython-311.pyc": b"\0",
        "puddles/ponds/transactions/data/t.parquet": b"PAR1",
        ".venv/pyvenv.cfg": "home = /usr",
        "env2/pyvenv.cfg": "home = /usr",
        "env2/lib/site.py": "",
    }
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, content in entries.items():
            archive.writestr("sales-main/" + name, content)
        # Links inside a virtualenv are normal there, and skipped with it.
        archive.writestr(unix_entry("sales-main/.venv/bin/python", stat.S_IFLNK | 0o777), "/usr")
    source = read_upload(buffer.getvalue())
    assert sorted(source.files) == ["README.md", "pond.toml", "src/helpers.py", "src/pond.py"]
    assert source.manifest.name == "sales"
    assert str(source.manifest.version) == "1.2.0"

    folder = store_version(layout, source)
    assert folder == layout.version("sales", "1.2.0")
    assert (folder / "src" / "pond.py").read_text() == RIPPLES
    assert sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()) == [
        "README.md",
        "pond.toml",
        "src/helpers.py",
        "src/pond.py",
    ]
    assert discover(layout, "sales", "1.2.0") == [
        {"name": "orders", "parents": []},
        {"name": "totals", "parents": ["orders"]},
    ]
    # Discovery ran the author's code elsewhere and left no bytecode in the stored version.
    assert not list(folder.rglob("__pycache__"))


def test_redeploy_replaces_the_version_and_leaves_no_staging_behind(layout: RootLayout) -> None:
    folder = layout.version("sales", "1.2.0")
    (folder / "stale.txt").write_text("from the first deploy")  # only the old copy has it
    changed = RIPPLES.replace("def totals", "def grand_totals")
    again = store_version(layout, read_upload(make_zip({**GOOD, "src/pond.py": changed})))
    assert again == folder
    assert (folder / "src" / "pond.py").read_text() == changed
    assert not (folder / "stale.txt").exists()
    assert sorted(p.name for p in layout.pond("sales").iterdir()) == ["1.2.0"]
    assert [r["name"] for r in discover(layout, "sales", "1.2.0")] == ["orders", "grand_totals"]


def test_deploy_version_discovers_before_swapping_in(layout: RootLayout) -> None:
    changed = RIPPLES + "\n@ripple(parents=[totals])\ndef audit(pond):\n    pass\n"
    deployed = deploy_version(layout, read_upload(make_zip({**GOOD, "src/pond.py": changed})))
    assert deployed.path == layout.version("sales", "1.2.0")
    assert [r["name"] for r in deployed.topology] == ["orders", "totals", "audit"]
    assert (deployed.path / "src" / "pond.py").read_text() == changed


def test_check_declared_refuses_fields_that_differ_from_the_manifest() -> None:
    manifest = read_upload(make_zip(GOOD)).manifest
    check_declared(manifest, "sales", "1.2.0", "pond")
    check_declared(manifest, None, "", None)
    with pytest.raises(IntakeError, match=r"name 'orders' does not match pond.toml"):
        check_declared(manifest, "orders", "1.2.0", "pond")
    with pytest.raises(IntakeError, match=r"version '1.3.0' does not match"):
        check_declared(manifest, "sales", "1.3.0", "pond")
    with pytest.raises(IntakeError, match=r"type 'inlet' does not match"):
        check_declared(manifest, "sales", "1.2.0", "inlet")
    with pytest.raises(IntakeError, match=r"not a SemVer"):
        check_declared(manifest, "sales", "one", "pond")


# -- discovery failures -----------------------------------------------------------------------


def stored(layout: RootLayout, ripples: str) -> None:
    store_version(layout, read_upload(make_zip({**GOOD, "src/pond.py": textwrap.dedent(ripples)})))


def test_a_raising_module_surfaces_the_authors_traceback(layout: RootLayout) -> None:
    stored(layout, "from duckstring import ripple\nraise RuntimeError('no sales today')\n")
    with pytest.raises(DiscoveryError) as raised:
        discover(layout, "sales", "1.2.0")
    message = str(raised.value)
    assert "RuntimeError: no sales today" in message
    assert "Traceback" in message and "src/pond.py" in message
    assert raised.value.status == 422


def test_a_bad_decorator_surfaces_the_definition_error(layout: RootLayout) -> None:
    stored(
        layout,
        """
        from duckstring import ripple

        @ripple
        def orders(pond):
            pass

        @ripple(name="orders")
        def again(pond):
            pass
        """,
    )
    with pytest.raises(DiscoveryError, match="duplicate Ripple name 'orders'"):
        discover(layout, "sales", "1.2.0")


def test_a_module_that_hangs_is_stopped_by_the_timeout(layout: RootLayout) -> None:
    stored(layout, "import time\ntime.sleep(60)\n")
    with pytest.raises(DiscoveryError, match="took longer than 1 s"):
        discover(layout, "sales", "1.2.0", timeout=1)


def test_a_failing_redeploy_leaves_the_working_version_in_place(layout: RootLayout) -> None:
    before = listing(layout.root)
    broken = make_zip({**GOOD, "src/pond.py": "import no_such_module_anywhere\n"})
    with pytest.raises(DiscoveryError) as raised:
        deploy_version(layout, read_upload(broken))
    assert "ModuleNotFoundError" in str(raised.value)
    assert ".staging-" not in str(raised.value)  # messages name the final place
    assert listing(layout.root) == before


def test_a_failing_first_deploy_leaves_an_empty_root_empty(tmp_path: Path) -> None:
    layout = RootLayout(tmp_path / "root")
    layout.root.mkdir()
    with pytest.raises(DiscoveryError):
        deploy_version(layout, read_upload(make_zip({**GOOD, "src/pond.py": "1/0\n"})))
    assert listing(layout.root) == []


def test_discover_of_a_version_never_stored_is_an_intake_error(layout: RootLayout) -> None:
    with pytest.raises(IntakeError, match="not stored"):
        discover(layout, "sales", "9.9.9")


# -- git --------------------------------------------------------------------------------------

GIT_ENV = {
    **os.environ,
    "GIT_AUTHOR_NAME": "t",
    "GIT_AUTHOR_EMAIL": "t@example.com",
    "GIT_COMMITTER_NAME": "t",
    "GIT_COMMITTER_EMAIL": "t@example.com",
    "GIT_CONFIG_GLOBAL": os.devnull,
}


def git(*args: str, cwd: Path) -> str:
    done = subprocess.run(
        ["git", *args], cwd=cwd, env=GIT_ENV, check=True, capture_output=True, text=True
    )
    return done.stdout.strip()


@pytest.fixture
def repository(tmp_path: Path) -> tuple[str, dict[str, str]]:
    """A bare repository with a branch, a tag and two commits; returns its URL and refs."""
    work = tmp_path / "work"
    work.mkdir()
    git("init", "-q", "-b", "main", cwd=work)
    for name, content in GOOD.items():
        (work / name).parent.mkdir(parents=True, exist_ok=True)
        (work / name).write_text(content)
    git("add", ".", cwd=work)
    git("commit", "-q", "-m", "first", cwd=work)
    first = git("rev-parse", "HEAD", cwd=work)
    git("tag", "v1.2.0", cwd=work)
    (work / "src" / "pond.py").write_text(RIPPLES.replace("def totals", "def later"))
    git("commit", "-q", "-am", "second", cwd=work)
    git("checkout", "-q", "-b", "with-link", cwd=work)
    (work / "src" / "link.py").symlink_to("/etc/passwd")
    git("add", ".", cwd=work)
    git("commit", "-q", "-m", "a link", cwd=work)
    git("checkout", "-q", "main", cwd=work)
    bare = tmp_path / "sales.git"
    git("clone", "-q", "--bare", str(work), str(bare), cwd=tmp_path)
    return f"file://{bare}", {"first": first}


def test_git_deploy_of_a_branch_a_tag_and_a_commit(
    repository: tuple[str, dict[str, str]], tmp_path: Path
) -> None:
    url, refs = repository
    on_main = read_git(url, "main", allow_local=True)
    assert sorted(on_main.files) == ["README.md", "pond.toml", "src/pond.py"]
    assert "def later" in on_main.files["src/pond.py"].decode()
    tagged = read_git(url, "v1.2.0", allow_local=True)
    assert "def totals" in tagged.files["src/pond.py"].decode()
    assert tagged.commit == refs["first"]
    by_commit = read_git(url, refs["first"][:10], allow_local=True)
    assert by_commit.commit == refs["first"]
    assert by_commit.files == tagged.files

    layout = RootLayout(tmp_path / "root")
    deployed = deploy_version(layout, on_main)
    assert [r["name"] for r in deployed.topology] == ["orders", "later"]


def test_git_deploy_refuses_a_link_in_the_repository(
    repository: tuple[str, dict[str, str]],
) -> None:
    url, _ = repository
    with pytest.raises(IntakeError, match="symbolic link"):
        read_git(url, "with-link", allow_local=True)


def test_git_deploy_of_an_unknown_ref_names_it(repository: tuple[str, dict[str, str]]) -> None:
    url, _ = repository
    with pytest.raises(IntakeError, match="no-such-branch"):
        read_git(url, "no-such-branch", allow_local=True)
    with pytest.raises(IntakeError, match="no commit 'deadbeef00'"):
        read_git(url, "deadbeef00", allow_local=True)


def test_local_repositories_are_refused_unless_allowed(
    repository: tuple[str, dict[str, str]],
) -> None:
    url, _ = repository
    with pytest.raises(IntakeError, match="DUCKSTRING_ALLOW_LOCAL_GIT=1"):
        read_git(url, "main")
    with pytest.raises(IntakeError, match="DUCKSTRING_ALLOW_LOCAL_GIT=1"):
        read_git(url.removeprefix("file://"), "main")
    allowed = read_git(url.removeprefix("file://"), "main", allow_local=True)
    assert "def later" in allowed.files["src/pond.py"].decode()


@pytest.mark.parametrize(
    "url",
    [
        "-oProxyCommand=touch /tmp/pwned",
        "--upload-pack=touch /tmp/pwned",
        "ext::sh -c touch% /tmp/pwned",
        "fd::17",
        "file::/tmp/x",
        "ssh://-oProxyCommand=x/repo",
        "https://-host/repo",
        "ftp://example.com/repo.git",
        "https://example.com/repo .git",
        "x+y::address",
        "HTTPS://example.com/repo.git",
        "git+ssh://example.com/repo.git",
        "git://example.com/repo.git",
        "ssh://%2DoProxyCommand=x@example.com/repo",
        "ssh://us%20er@example.com/repo",
        "https://example.com:port/repo.git",
        "http://[::1/repo.git",
        "https://token@[::1/repo.git",
        "file://[x/repo.git",
        "localhost:/tmp/x",
        "file:/tmp/x",
        "file:tmp/x",
        "file://otherhost/tmp/x",
        "relative/repo.git",
        "../repo.git",
        "~/repo.git",
    ],
)
def test_repository_urls_with_tricks_are_refused(url: str) -> None:
    with pytest.raises(IntakeError):
        check_repo_url(url, allow_local=True)


@pytest.mark.parametrize(
    "url", ["/srv/git/repo.git", "file:///srv/git/repo.git", "file://localhost/srv/repo.git"]
)
def test_local_repository_urls_pass_only_when_allowed(url: str) -> None:
    assert check_repo_url(url, allow_local=True) == url
    with pytest.raises(IntakeError, match="DUCKSTRING_ALLOW_LOCAL_GIT=1"):
        check_repo_url(url)


@pytest.mark.parametrize(
    "url",
    [
        "https://github.com/org/repo.git",
        "http://git.local:8080/repo",
        "ssh://git@example.com:2222/org/repo.git",
        "git@github.com:org/repo.git",
        "https://user:token@example.com/repo.git",
        "http://[::1]:8080/repo.git",
    ],
)
def test_ordinary_repository_urls_pass(url: str) -> None:
    assert check_repo_url(url) == url


@pytest.mark.parametrize("ref", ["-b", "--help", "a..b", "HEAD@{1}", "main^", "a b", "x.lock", ""])
def test_refs_with_tricks_are_refused(ref: str) -> None:
    with pytest.raises(IntakeError):
        check_ref(ref)


def test_pond_source_counts_its_bytes() -> None:
    source = read_upload(make_zip(GOOD))
    assert isinstance(source, PondSource)
    assert source.total_bytes == sum(len(text.encode()) for text in GOOD.values())
    assert source.origin == "upload" and source.commit is None


def test_redeploy_without_an_atomic_exchange_falls_back_to_two_renames(
    layout: RootLayout, monkeypatch: pytest.MonkeyPatch
) -> None:
    from duckstring.catchment import intake

    monkeypatch.setattr(intake, "_exchange", lambda first, second: False)
    changed = RIPPLES.replace("def totals", "def grand_totals")
    folder = store_version(layout, read_upload(make_zip({**GOOD, "src/pond.py": changed})))
    assert (folder / "src" / "pond.py").read_text() == changed
    assert sorted(p.name for p in layout.pond("sales").iterdir()) == ["1.2.0"]


def test_prepare_line_makes_a_new_ledger_and_never_touches_one_that_exists(tmp_path: Path) -> None:
    layout = RootLayout(tmp_path)
    assert prepare_line(layout, "fresh", 1) is True
    ledger = Ledger(layout.ledger("fresh", 1))
    try:
        assert ledger.runs() == []
        ledger.begin_run(RunRow(1, 10, "1.0.0", "pull", 0, RUNNING), at=20)
    finally:
        ledger.close()
    # A redeploy of the line finds its ledger, with its runs, and leaves it as it is.
    assert prepare_line(layout, "fresh", 1) is False
    ledger = Ledger(layout.ledger("fresh", 1))
    try:
        assert [run.seq for run in ledger.runs()] == [1]
    finally:
        ledger.close()
