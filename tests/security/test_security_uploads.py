"""Hostile deploys and path parameters over HTTP: each is refused and the root is left exactly
as it was (same paths, sizes and modification times), and nothing appears outside it."""

from __future__ import annotations

import io
import socket
import stat
import uuid
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from duckstring.catchment.upload import UploadLimits
from e2e.server import Server
from security.conftest import deploy_pond, listing, pulse_until_published, upload, zip_bytes

MANIFEST = '[pond]\nname = "hostile"\nversion = "1.0.0"\n'
RIPPLES = "from duckstring import ripple\n"
#: A unique name: if any refused upload wrote it anywhere, the search below finds it.
MARK = f"escaped-{uuid.uuid4().hex}"


@dataclass
class Target:
    server: Server
    root: Path
    outside: Path  # the folder holding the root: where an escape would land first


@pytest.fixture(scope="module")
def target(start_server: Callable[..., Server], tmp_path_factory: pytest.TempPathFactory) -> Target:
    server = start_server()
    projects = tmp_path_factory.mktemp("projects")
    deploy_pond(server, projects, "good", kind="inlet")
    pulse_until_published(server, "good")
    return Target(server, server.root, server.root.parent)


@pytest.fixture
def client(target: Target) -> Iterator[httpx.Client]:
    with target.server.client() as client:
        yield client


def marks_anywhere(target: Target) -> list[Path]:
    return [path for path in target.outside.rglob(f"*{MARK}*")] + [
        path for path in Path("/tmp").glob(f"*{MARK}*")
    ]


def assert_refused_and_untouched(
    target: Target, send: Callable[[], httpx.Response], statuses: tuple[int, ...] = (413, 422)
) -> httpx.Response:
    before = listing(target.root)
    answer = send()
    assert answer.status_code in statuses, answer.text
    assert listing(target.root) == before, "a refused deploy changed the root"
    assert not marks_anywhere(target)
    return answer


def symlink_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("pond.toml", MANIFEST)
        archive.writestr("src/pond.py", RIPPLES)
        link = zipfile.ZipInfo(f"src/{MARK}.py")
        link.create_system = 3  # Unix, so the mode bits are read
        link.external_attr = (stat.S_IFLNK | 0o777) << 16
        archive.writestr(link, "/etc/passwd")
    return buffer.getvalue()


def bomb_zip() -> bytes:
    """64 MiB of zeros deflated to ~64 KiB: a ratio of ~1000, far over the limit of 100."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("pond.toml", MANIFEST)
        archive.writestr("src/pond.py", RIPPLES)
        archive.writestr(f"{MARK}.bin", bytes(64 * 1024 * 1024))
    return buffer.getvalue()


def oversize_zip() -> bytes:
    """A stored (uncompressed) archive exactly one byte over the server's archive limit."""

    def build(size: int) -> bytes:
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_STORED) as archive:
            archive.writestr("pond.toml", MANIFEST)
            archive.writestr("src/pond.py", RIPPLES)
            archive.writestr(f"{MARK}.bin", b"\x01" * size)
        return buffer.getvalue()

    limit = UploadLimits().max_archive_bytes
    data = build(limit - len(build(0)) + 1)
    assert len(data) == limit + 1
    return data


HOSTILE_ARCHIVES: dict[str, Callable[[], bytes]] = {
    "dotdot": lambda: zip_bytes(
        {"pond.toml": MANIFEST, "src/pond.py": RIPPLES, f"../{MARK}.py": "x"}
    ),
    "dotdot-inside": lambda: zip_bytes(
        {"pond.toml": MANIFEST, "src/pond.py": RIPPLES, f"src/../../../{MARK}.py": "x"}
    ),
    "absolute": lambda: zip_bytes(
        {"pond.toml": MANIFEST, "src/pond.py": RIPPLES, f"/tmp/{MARK}.py": "x"}
    ),
    "backslash": lambda: zip_bytes(
        {"pond.toml": MANIFEST, "src/pond.py": RIPPLES, f"..\\..\\{MARK}.py": "x"}
    ),
    "drive-letter": lambda: zip_bytes(
        {"pond.toml": MANIFEST, "src/pond.py": RIPPLES, f"C:/{MARK}.py": "x"}
    ),
    "symlink": symlink_zip,
    "zip-bomb": bomb_zip,
    "not-a-zip": lambda: b"PK\x03\x04 this is not a zip archive",
    "no-manifest": lambda: zip_bytes({"src/pond.py": RIPPLES}),
    "bad-toml": lambda: zip_bytes({"pond.toml": "[pond\nname = ", "src/pond.py": RIPPLES}),
    "bad-semver": lambda: zip_bytes(
        {"pond.toml": '[pond]\nname = "hostile"\nversion = "banana"\n', "src/pond.py": RIPPLES}
    ),
    "manifest-name-escapes": lambda: zip_bytes(
        {"pond.toml": '[pond]\nname = "../../x"\nversion = "1.0.0"\n', "src/pond.py": RIPPLES}
    ),
    "manifest-version-escapes": lambda: zip_bytes(
        {"pond.toml": '[pond]\nname = "hostile"\nversion = "../../x"\n', "src/pond.py": RIPPLES}
    ),
    "manifest-ripples-escapes": lambda: zip_bytes(
        {
            "pond.toml": MANIFEST + 'ripples = "../../../etc/passwd"\n',
            "src/pond.py": RIPPLES,
        }
    ),
}


@pytest.mark.parametrize("case", sorted(HOSTILE_ARCHIVES))
def test_a_hostile_archive_is_refused_and_the_root_is_unchanged(
    target: Target, client: httpx.Client, case: str
) -> None:
    archive = HOSTILE_ARCHIVES[case]()
    answer = assert_refused_and_untouched(target, lambda: upload(client, archive))
    if case in ("zip-bomb",):
        assert answer.status_code == 413


def test_an_archive_just_over_the_limit_is_413_and_the_root_is_unchanged(
    target: Target, client: httpx.Client
) -> None:
    archive = oversize_zip()
    answer = assert_refused_and_untouched(target, lambda: upload(client, archive), (413,))
    assert "limit" in answer.json()["detail"]


def test_a_body_far_over_the_limit_is_refused_before_it_is_read(target: Target) -> None:
    """A declared length over the limit is answered at once, before the body is sent; a
    chunked body without a length is cut off at the limit rather than spooled to disk."""
    declared = 10 * UploadLimits().max_archive_bytes
    before = listing(target.root)
    with socket.create_connection(("127.0.0.1", target.server.port), timeout=10) as raw:
        raw.sendall(
            b"POST /api/deploy HTTP/1.1\r\nHost: x\r\n"
            b"Content-Type: multipart/form-data; boundary=b\r\n"
            + f"Content-Length: {declared}\r\n\r\n".encode()
        )
        head = raw.recv(4096)
    assert head.startswith(b"HTTP/1.1 413"), head[:200]

    def chunks() -> Iterator[bytes]:
        yield (
            b'--b\r\nContent-Disposition: form-data; name="pond"; filename="p.zip"\r\n'
            b"Content-Type: application/zip\r\n\r\n"
        )
        block = bytes(1024 * 1024)
        for _ in range(UploadLimits().max_archive_bytes // len(block) + 8):
            yield block
        yield b"\r\n--b--\r\n"

    answer = httpx.post(
        f"{target.server.url}/api/deploy",
        headers={"Content-Type": "multipart/form-data; boundary=b"},
        content=chunks(),
        timeout=60,
    )
    assert answer.status_code == 413, answer.text
    assert listing(target.root) == before


@pytest.mark.parametrize(
    "fields",
    [
        {"name": "../hostile"},
        {"name": "../../../tmp/x"},
        {"version": "../../x"},
        {"version": "1.0.0/../../x"},
        {"type": "../x"},
    ],
    ids=lambda fields: "-".join(f"{k}={v}" for k, v in fields.items()),
)
def test_form_fields_that_would_escape_are_refused(
    target: Target, client: httpx.Client, fields: dict[str, str]
) -> None:
    archive = zip_bytes({"pond.toml": MANIFEST, "src/pond.py": RIPPLES})
    assert_refused_and_untouched(target, lambda: upload(client, archive, fields), (422,))


@pytest.mark.parametrize(
    "body",
    [
        {"name": "x", "version": "1.0.0", "git_ref": "main", "repo_url": "file:///etc"},
        {"name": "x", "version": "1.0.0", "git_ref": "main", "repo_url": "ext::sh -c id"},
        {"name": "x", "version": "1.0.0", "git_ref": "--upload-pack=id", "repo_url": "/tmp"},
        {"name": "x", "version": "1.0.0", "git_ref": "main", "repo_url": "-oProxyCommand=id"},
    ],
    ids=["file-url", "ext-transport", "option-ref", "option-url"],
)
def test_git_deploys_that_would_read_the_server_or_run_commands_are_refused(
    target: Target, client: httpx.Client, body: dict[str, str]
) -> None:
    assert_refused_and_untouched(target, lambda: client.post("/deploy", json=body), (422,))


ESCAPING_REQUESTS = [
    ("GET", "/ponds/..%2F..%2Fetc/ripples/passwd", None),
    ("GET", "/ponds/%2E%2E/ripples/passwd", None),
    ("GET", "/ponds/good/ripples/..%2F..%2F..%2Fduck.db", None),
    ("GET", "/ponds/good/ripples/..%2Fm1%2Fregistry", None),
    ("GET", "/ponds/good/ripples/%2Fetc%2Fpasswd", None),
    ("GET", "/ponds/good/versions/..%2F..%2F..%2Fetc", None),
    ("GET", "/ponds/..%2Fgood/versions/1.0.0", None),
    ("GET", "/ponds/..%2F..%2Fetc/windows", None),
    ("POST", "/ponds/good/windows/..%2F..%2Fx/remove", None),
    ("POST", "/ponds/good/windows/%2E%2E/remove", None),
    ("POST", "/ponds/good/windows/%00/remove", None),
    ("POST", "/ponds/good/windows/a%2Fb/remove", None),
    ("POST", "/ponds/..%2Fgood/tap", None),
    ("GET", "/runs?pond=..%2F..%2Fetc", None),
    ("GET", "/duck/..%2Fgood/1/jobs?wait=0", None),
    ("POST", "/query", {"pond": "../x", "sql": "SELECT 1"}),
    ("POST", "/query", {"pond": "../../etc", "ripple": "passwd"}),
    ("POST", "/query", {"pond": "good", "ripple": "../../../../etc/passwd"}),
    ("POST", "/query", {"pond": "good", "ripple": "../m1/registry"}),
    ("POST", "/ponds/good/windows", {"name": "../x", "freq_unit": "DAY", "freq_interval": 1}),
]


@pytest.mark.parametrize(("method", "path", "body"), ESCAPING_REQUESTS)
def test_path_parameters_cannot_reach_outside_the_root(
    target: Target, client: httpx.Client, method: str, path: str, body: dict[str, str] | None
) -> None:
    before = listing(target.root)
    answer = client.request(method, path, json=body)
    assert answer.status_code in (404, 422), answer.text
    assert answer.headers["content-type"].startswith("application/json")
    assert b"root:" not in answer.content and b"SQLite format" not in answer.content
    assert listing(target.root) == before


def test_the_published_output_is_still_served_by_its_real_name(
    target: Target, client: httpx.Client
) -> None:
    """The refusals above are not a route that refuses everything."""
    answer = client.get("/ponds/good/ripples/numbers")
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "application/zip"
