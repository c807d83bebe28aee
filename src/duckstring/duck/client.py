"""The Duck's HTTP side: long-poll the Catchment for commands and post events to it.

The Duck always dials the Catchment, never the reverse. Every request carries the Duck's
identity header, the bearer key when there is one, and any extra headers the Duck was given (a
platform gate in front of the Catchment, say). Failures come back classified: a Catchment that
cannot be reached or answers 5xx is :class:`Unreachable` (back off, try again, forever); one that
refuses the request (401, 404, 422 …) is :class:`Rejected` (say so, keep the events, try later).
"""

from __future__ import annotations

import http.client
import json
import os
import select
import ssl
from collections.abc import Mapping, Sequence
from urllib.parse import SplitResult, urlsplit

from pydantic import ValidationError

from duckstring.duck import protocol
from duckstring.duck.protocol import BeginRun, Jobs, Shutdown

#: How long a Duck waits for a connection to its Catchment.
CONNECT_SECONDS = 5.0


class Unreachable(Exception):
    """The Catchment did not answer usefully (connection error, timeout, 5xx)."""


class Rejected(Exception):
    """The Catchment answered, and refused (4xx, or a body this Duck cannot read)."""

    def __init__(self, status: int, detail: str) -> None:
        self.status = status
        self.detail = detail
        super().__init__(f"HTTP {status}: {detail}")


class DuckClient:
    """Requests of one Duck line to one Catchment. Use one per thread.

    It speaks HTTP/1.1 over one kept-alive connection with the standard library's
    ``http.client``: every run costs a Duck a long poll and an event post or two, and a request
    through ``httpx`` cost the Duck ~1.1 ms of CPU against ~0.4 ms here (measured against a local
    server), a sixth of a warm run's CPU. Proxies from the environment are not used: a Duck
    dials its Catchment directly. An ``https`` Catchment is checked as ``httpx`` would check it:
    against ``SSL_CERT_FILE`` or ``SSL_CERT_DIR`` when set, else certifi's bundle.

    A kept connection that the Catchment has closed meanwhile (it closes idle ones after a few
    seconds) is replaced before it is used, and a request it loses on the way is sent once more
    on a new connection: both requests are safe to repeat (a poll takes nothing until it is
    answered, and every event is applied once).
    """

    def __init__(
        self,
        url: str,
        pond: str,
        major: int,
        duck_id: str,
        *,
        api_key: str | None = None,
        headers: Mapping[str, str] | None = None,
        poll_wait: float = protocol.POLL_WAIT,
    ) -> None:
        self.duck_id = duck_id
        self.poll_wait = poll_wait
        # A Catchment served under a path (``https://host/catchment``) keeps it. A URL that
        # cannot be dialled fails each request, like a Catchment that does not answer.
        self._url = url
        try:
            self._parts: SplitResult | None = urlsplit(url)
        except ValueError:
            self._parts = None
        base = "" if self._parts is None else self._parts.path.rstrip("/")
        self._jobs = base + protocol.jobs_path(pond, major)
        self._events = base + protocol.events_path(pond, major)
        all_headers = {**(headers or {}), protocol.DUCK_HEADER: duck_id}
        if api_key:
            all_headers["Authorization"] = f"Bearer {api_key}"
        self._headers = all_headers
        # A long poll may legitimately take ``poll_wait``; allow the answer some slack on top.
        self._timeout = poll_wait + 10.0
        self._connection: http.client.HTTPConnection | None = None
        self._tls: ssl.SSLContext | None = None

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    def jobs(self, held: Sequence[int] = ()) -> list[BeginRun | Shutdown]:
        """Commands waiting for this Duck: as soon as one exists, or none after the wait.

        ``held``: runs this Duck holds already (handed to it when it started), whose
        ``begin_run`` the Catchment may drop instead of answering with it."""
        query = protocol.jobs_query(self.duck_id, self.poll_wait, held)
        status, body = self._request("GET", f"{self._jobs}?{query}")
        try:
            return Jobs.model_validate_json(body).commands
        except ValidationError as error:
            raise Rejected(status, f"unreadable jobs answer: {error}") from None

    def send(self, body: bytes) -> None:
        """Post one ``Events`` batch (already serialised: :func:`protocol.events_body`)."""
        self._request("POST", self._events, body)

    def _request(self, method: str, path: str, body: bytes | None = None) -> tuple[int, bytes]:
        headers = self._headers if body is None else {**self._headers, **_JSON}
        for last in (False, True):
            kept = False
            try:
                connection, kept = self._connect()
                connection.request(method, path, body=body, headers=headers)
                response = connection.getresponse()
                data = response.read()
            except Exception as error:
                # Trouble below HTTP too (a codec or resolver error, say) is retried like an
                # outage: a poller or sender thread that died of it would leave the Duck deaf
                # or mute.
                self.close()
                if kept and not last and isinstance(error, ConnectionError):
                    continue  # the Catchment closed the kept connection as the request went
                raise Unreachable(f"{type(error).__name__}: {error}") from None
            if response.will_close:
                self.close()
            break
        if response.status >= 500:
            raise Unreachable(f"HTTP {response.status}")
        if response.status >= 400:
            raise Rejected(response.status, _detail(data))
        return response.status, data

    def _connect(self) -> tuple[http.client.HTTPConnection, bool]:
        """The kept connection if the Catchment has not closed it, else a new one; and whether
        it was kept."""
        connection = self._connection
        if connection is not None and connection.sock is not None:
            between = select.poll()
            between.register(connection.sock, select.POLLIN)
            if not between.poll(0):  # nothing to read between requests: it is still open
                return connection, True
            self.close()  # closed by the Catchment (or talking out of turn)
        parts = self._parts
        if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not an http(s) URL: {self._url!r}")
        if parts.scheme == "https":
            if self._tls is None:
                self._tls = _tls_context()
            connection = http.client.HTTPSConnection(
                parts.hostname, parts.port, timeout=CONNECT_SECONDS, context=self._tls
            )
        else:
            connection = http.client.HTTPConnection(
                parts.hostname, parts.port, timeout=CONNECT_SECONDS
            )
        self._connection = connection
        connection.connect()
        assert connection.sock is not None
        connection.sock.settimeout(self._timeout)
        return connection, False


_JSON = {"Content-Type": protocol.MEDIA_TYPE}


def _tls_context() -> ssl.SSLContext:
    """Certificates named by ``SSL_CERT_FILE`` or ``SSL_CERT_DIR`` when either is set (OpenSSL
    reads them itself), else certifi's bundle, else the system's store."""
    if os.environ.get("SSL_CERT_FILE") or os.environ.get("SSL_CERT_DIR"):
        return ssl.create_default_context()
    try:
        import certifi
    except ImportError:
        return ssl.create_default_context()
    return ssl.create_default_context(cafile=certifi.where())


def _detail(body: bytes) -> str:
    try:
        parsed = json.loads(body)
    except ValueError:
        return body.decode(errors="replace")[:200]
    if isinstance(parsed, dict) and "detail" in parsed:
        return str(parsed["detail"])[:200]
    return str(parsed)[:200]


class Backoff:
    """Exponential delays between retries, from ``first`` up to ``limit`` seconds."""

    def __init__(self, first: float = 0.05, limit: float = 3.0) -> None:
        self.first = first
        self.limit = limit
        self._next = first

    def reset(self) -> None:
        self._next = self.first

    def next(self) -> float:
        delay = self._next
        self._next = min(self._next * 2, self.limit)
        return delay
