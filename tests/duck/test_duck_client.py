"""The Duck's HTTP client on the wire, against a real Catchment behind a link that misbehaves:
one kept connection, replaced when the Catchment closed it, one more try for a request lost as
it went, and nothing more."""

from __future__ import annotations

import select
import ssl
from collections.abc import Iterator
from pathlib import Path

import pytest
import trustme
from duck_catchment import Answer, Cut, DuckCatchment, Link, served_catchment
from duck_support import NAME

from duckstring.duck.client import DuckClient, Rejected, Unreachable
from duckstring.duck.protocol import EVENTS, JOBS, events_body

#: An event post with nothing in it (the Catchment takes it, and applies nothing).
EMPTY = events_body([])


@pytest.fixture
def catchment(tmp_path: Path) -> Iterator[DuckCatchment]:
    yield from served_catchment(tmp_path / "catchment")


def test_requests_share_one_kept_connection(catchment: DuckCatchment) -> None:
    client = DuckClient(catchment.url, NAME, 1, "d1", poll_wait=0.1)
    try:
        assert client.jobs() == []
        client.send(EMPTY)
        assert client.jobs(held=[4, 5]) == []
    finally:
        client.close()
    assert catchment.link.requests == [
        (1, "GET /api/duck/pond/1/jobs?duck=d1&wait=0.1 HTTP/1.1"),
        (1, "POST /api/duck/pond/1/events HTTP/1.1"),
        (1, "GET /api/duck/pond/1/jobs?duck=d1&wait=0.1&held=4&held=5 HTTP/1.1"),
    ]


def test_a_connection_the_catchment_closed_is_replaced_before_it_is_used(
    catchment: DuckCatchment,
) -> None:
    catchment.link.next(EVENTS, Cut.AFTER)
    client = DuckClient(catchment.url, NAME, 1, "d1")
    try:
        client.send(EMPTY)
        kept = client._connection
        assert kept is not None and kept.sock is not None
        closed = select.poll()
        closed.register(kept.sock, select.POLLIN)
        assert closed.poll(5000)  # the close has arrived
        connection, reused = client._connect()
        assert connection is not kept and not reused  # not sent into the closed one
        client.send(EMPTY)
    finally:
        client.close()
    assert [number for number, _ in catchment.link.requests] == [1, 2]


def test_a_request_lost_on_a_kept_connection_is_sent_once_more(catchment: DuckCatchment) -> None:
    client = DuckClient(catchment.url, NAME, 1, "d1")
    try:
        client.send(EMPTY)
        catchment.link.next(EVENTS, Cut.DROP)
        client.send(EMPTY)  # lost on the kept connection, then sent on a new one
    finally:
        client.close()
    assert [number for number, _ in catchment.link.requests] == [1, 1, 2]


def test_a_request_lost_on_a_new_connection_is_an_outage(catchment: DuckCatchment) -> None:
    catchment.link.next(EVENTS, Cut.DROP)
    client = DuckClient(catchment.url, NAME, 1, "d1")
    try:
        with pytest.raises(Unreachable, match="RemoteDisconnected"):
            client.send(EMPTY)
        client.send(EMPTY)  # the next one dials again
    finally:
        client.close()
    assert [number for number, _ in catchment.link.requests] == [1, 2]


def test_answers_are_classified(catchment: DuckCatchment) -> None:
    catchment.link.next(EVENTS, Answer(503), Answer(401, '{"detail": "no"}'))
    client = DuckClient(catchment.url, NAME, 1, "d1", api_key="k3y")
    try:
        with pytest.raises(Unreachable, match="HTTP 503"):
            client.send(EMPTY)
        with pytest.raises(Rejected, match="HTTP 401: no"):
            client.send(EMPTY)
        client.send(EMPTY)
    finally:
        client.close()
    assert [number for number, _ in catchment.link.requests] == [1, 1, 1]


def test_a_catchment_served_under_a_path_keeps_it(tmp_path: Path) -> None:
    catchment = DuckCatchment(tmp_path / "catchment", prefix="/catchment")
    client = DuckClient(catchment.url + "/", NAME, 1, "d1", poll_wait=0)
    try:
        assert client.jobs() == []  # answered by the Catchment, under its path
    finally:
        client.close()
        catchment.stop()
    assert catchment.link.requests[0][1].startswith("GET /catchment/api/duck/pond/1/jobs?")


def test_answers_the_duck_cannot_read_are_refusals(catchment: DuckCatchment) -> None:
    dance = Answer(200, '{"commands": [{"type": "dance"}]}')
    catchment.link.next(JOBS, dance, Answer(404, "no such line"))
    client = DuckClient(catchment.url, NAME, 1, "d1", poll_wait=0)
    try:
        with pytest.raises(Rejected, match="HTTP 200: unreadable jobs answer"):
            client.jobs()
        with pytest.raises(Rejected, match="HTTP 404: no such line"):
            client.jobs()
        assert client.jobs() == []  # the connection is still good
    finally:
        client.close()
    assert [number for number, _ in catchment.link.requests] == [1, 1, 1]


@pytest.mark.parametrize("url", ["ftp://127.0.0.1:9", "not a url", "http://[::1"])
def test_a_url_that_cannot_be_dialled_is_an_outage(url: str) -> None:
    client = DuckClient(url, NAME, 1, "d1")
    try:
        with pytest.raises(Unreachable):
            client.send(EMPTY)
    finally:
        client.close()


def test_an_https_catchment_is_checked_against_the_certificates_given(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, catchment: DuckCatchment
) -> None:
    authority = trustme.CA()
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    authority.issue_cert("localhost").configure_cert(server_context)
    link = Link(catchment.served.address, tls=server_context)
    try:
        untrusted = DuckClient(link.url, NAME, 1, "d1")
        with pytest.raises(Unreachable, match="CERTIFICATE_VERIFY_FAILED"):
            untrusted.send(EMPTY)
        untrusted.close()
        bundle = tmp_path / "authority.pem"
        authority.cert_pem.write_to_path(str(bundle))
        monkeypatch.setenv("SSL_CERT_FILE", str(bundle))
        trusting = DuckClient(link.url, NAME, 1, "d1")
        try:
            trusting.send(EMPTY)
            trusting.send(EMPTY)
        finally:
            trusting.close()
    finally:
        link.close()
    assert [number for number, _ in link.requests] == [2, 2]  # one kept TLS connection
