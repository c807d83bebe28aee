"""The Duck's HTTP client on the wire: one kept connection, replaced when the Catchment closed
it, one more try for a request lost as it went, and nothing more."""

from __future__ import annotations

import json
import select
import socket
import ssl
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import trustme

from duckstring.duck.client import DuckClient, Rejected, Unreachable

Step = str | int | tuple[int, str]


class Wire:
    """An HTTP/1.1 server that does what it is told with each request, on a raw socket.

    ``plan`` holds one step per request, in order: ``"answer"`` (200, the connection kept),
    ``"answer-close"`` (200, then the connection closed without a word, as a server does
    with an idle connection), ``"drop"`` (the request read, the connection closed without an
    answer), a status code (answered, the connection kept), or a status code and the body to
    answer with.
    """

    def __init__(self, plan: list[Step], tls: ssl.SSLContext | None = None) -> None:
        self.plan = list(plan)
        self.requests: list[tuple[int, str]] = []  # (connection number, request line)
        self.connections = 0
        self.tls = tls
        self.listener = socket.create_server(("127.0.0.1", 0))
        port = self.listener.getsockname()[1]
        self.url = f"https://localhost:{port}" if tls else f"http://127.0.0.1:{port}"
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.listener.close()

    def _serve(self) -> None:
        while True:
            try:
                connection, _ = self.listener.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(
                target=self._talk, args=(connection, self.connections), daemon=True
            ).start()

    def _talk(self, connection: socket.socket, number: int) -> None:
        if self.tls is not None:
            try:
                connection = self.tls.wrap_socket(connection, server_side=True)
            except (ssl.SSLError, OSError):
                connection.close()  # the client did not trust us
                return
        reader = connection.makefile("rb")
        with connection, reader:
            while True:
                line = reader.readline().decode().strip()
                if not line:
                    return
                length = 0
                while header := reader.readline().decode().strip():
                    if header.lower().startswith("content-length:"):
                        length = int(header.split(":", 1)[1])
                reader.read(length)
                self.requests.append((number, line))
                step = self.plan.pop(0) if self.plan else "answer"
                if step == "drop":
                    return
                if isinstance(step, tuple):
                    status, body = step
                else:
                    status = step if isinstance(step, int) else 200
                    body = json.dumps({"commands": []} if status == 200 else {"detail": "no"})
                connection.sendall(
                    f"HTTP/1.1 {status} X\r\nContent-Type: application/json\r\n"
                    f"Content-Length: {len(body)}\r\n\r\n{body}".encode()
                )
                if step == "answer-close":
                    return


MakeWire = Callable[[list[Step]], Wire]


@pytest.fixture
def wire() -> Iterator[MakeWire]:
    made: list[Wire] = []

    def make(plan: list[Step]) -> Wire:
        made.append(Wire(plan))
        return made[-1]

    yield make
    for server in made:
        server.close()


def test_requests_share_one_kept_connection(wire: MakeWire) -> None:
    server = wire(["answer"] * 3)
    client = DuckClient(server.url, "sales", 2, "d1", poll_wait=0.5)
    try:
        assert client.jobs() == []
        client.send(b'{"events":[]}')
        assert client.jobs(held=[4, 5]) == []
    finally:
        client.close()
    assert server.requests == [
        (1, "GET /api/duck/sales/2/jobs?duck=d1&wait=0.5 HTTP/1.1"),
        (1, "POST /api/duck/sales/2/events HTTP/1.1"),
        (1, "GET /api/duck/sales/2/jobs?duck=d1&wait=0.5&held=4&held=5 HTTP/1.1"),
    ]


def test_a_connection_the_catchment_closed_is_replaced_before_it_is_used(wire: MakeWire) -> None:
    server = wire(["answer-close", "answer"])
    client = DuckClient(server.url, "sales", 1, "d1")
    try:
        client.send(b"{}")
        kept = client._connection
        assert kept is not None and kept.sock is not None
        closed = select.poll()
        closed.register(kept.sock, select.POLLIN)
        assert closed.poll(5000)  # the close has arrived
        connection, reused = client._connect()
        assert connection is not kept and not reused  # not sent into the closed one
        client.send(b"{}")
    finally:
        client.close()
    assert [number for number, _ in server.requests] == [1, 2]


def test_a_request_lost_on_a_kept_connection_is_sent_once_more(wire: MakeWire) -> None:
    server = wire(["answer", "drop", "answer"])
    client = DuckClient(server.url, "sales", 1, "d1")
    try:
        client.send(b"{}")
        client.send(b"{}")  # lost on the kept connection, then sent on a new one
    finally:
        client.close()
    assert [number for number, _ in server.requests] == [1, 1, 2]


def test_a_request_lost_on_a_new_connection_is_an_outage(wire: MakeWire) -> None:
    server = wire(["drop", "answer"])
    client = DuckClient(server.url, "sales", 1, "d1")
    try:
        with pytest.raises(Unreachable, match="RemoteDisconnected"):
            client.send(b"{}")
        client.send(b"{}")  # the next one dials again
    finally:
        client.close()
    assert [number for number, _ in server.requests] == [1, 2]


def test_answers_are_classified(wire: MakeWire) -> None:
    server = wire([503, 401, "answer"])
    client = DuckClient(server.url, "sales", 1, "d1", api_key="k3y")
    try:
        with pytest.raises(Unreachable, match="HTTP 503"):
            client.send(b"{}")
        with pytest.raises(Rejected, match="HTTP 401: no"):
            client.send(b"{}")
        client.send(b"{}")
    finally:
        client.close()
    assert [number for number, _ in server.requests] == [1, 1, 1]


def test_a_catchment_served_under_a_path_keeps_it(wire: MakeWire) -> None:
    server = wire(["answer"])
    client = DuckClient(server.url + "/catchment/", "sales", 1, "d1", poll_wait=1)
    try:
        client.jobs()
    finally:
        client.close()
    assert server.requests[0][1].startswith("GET /catchment/api/duck/sales/1/jobs?")


def test_answers_the_duck_cannot_read_are_refusals(wire: MakeWire) -> None:
    server = wire([(200, '{"commands": [{"type": "dance"}]}'), (404, "no such line"), "answer"])
    client = DuckClient(server.url, "sales", 1, "d1")
    try:
        with pytest.raises(Rejected, match="HTTP 200: unreadable jobs answer"):
            client.jobs()
        with pytest.raises(Rejected, match="HTTP 404: no such line"):
            client.jobs()
        assert client.jobs() == []  # the connection is still good
    finally:
        client.close()
    assert [number for number, _ in server.requests] == [1, 1, 1]


@pytest.mark.parametrize("url", ["ftp://127.0.0.1:9", "not a url", "http://[::1"])
def test_a_url_that_cannot_be_dialled_is_an_outage(url: str) -> None:
    client = DuckClient(url, "sales", 1, "d1")
    try:
        with pytest.raises(Unreachable):
            client.send(b"{}")
    finally:
        client.close()


def test_an_https_catchment_is_checked_against_the_certificates_given(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    authority = trustme.CA()
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    authority.issue_cert("localhost").configure_cert(server_context)
    server = Wire(["answer", "answer"], tls=server_context)
    try:
        untrusted = DuckClient(server.url, "sales", 1, "d1")
        with pytest.raises(Unreachable, match="CERTIFICATE_VERIFY_FAILED"):
            untrusted.send(b"{}")
        untrusted.close()
        bundle = tmp_path / "authority.pem"
        authority.cert_pem.write_to_path(str(bundle))
        monkeypatch.setenv("SSL_CERT_FILE", str(bundle))
        trusting = DuckClient(server.url, "sales", 1, "d1")
        try:
            trusting.send(b"{}")
            trusting.send(b"{}")
        finally:
            trusting.close()
    finally:
        server.close()
    assert [number for number, _ in server.requests] == [2, 2]  # one kept TLS connection
