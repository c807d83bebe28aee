"""A real Catchment for the Duck tests, behind a link that misbehaves when told to.

The Catchment is the packaged app on a root of its own, with the test Pond of ``duck_support``
deployed through its API, served by uvicorn on a thread of the test process. Its job board
takes the commands a test posts; its lane and routes read, check and apply what a Duck sends,
each event id once. Nothing in the Duck tests speaks the protocol in its place.

Between it and the Duck sits a :class:`Link`: a TCP relay that carries each request and its
answer as they are, except for the faults a test asks of the next requests of a kind (polls or
event posts): an :class:`Answer` in the Catchment's place (a 503 for an outage, a 401, a body
the Duck cannot read), or a :class:`Cut` of the connection (the request dropped unanswered, the
answer of an applied request lost, the connection closed after an answer). ``close()`` cuts
every connection and stops listening: the Catchment is gone. The link also keeps what went
over it: request lines, headers, poll queries and the event batches the Catchment accepted.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import http.client
import io
import select
import socket
import ssl
import threading
import time
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from email.message import Message
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import parse_qs, urlsplit

import httpx
import uvicorn
from duck_support import CHAIN, NAME, wait_until

from duckstring.catchment.app import create_app
from duckstring.catchment.service import CatchmentConfig
from duckstring.duck import protocol
from duckstring.duck.protocol import BeginRun, DuckEvent, Events, Shutdown

T = TypeVar("T")

#: The test Pond's line, as the Catchment names it.
LINE = f"{NAME}@1"


def pond_archive() -> bytes:
    """The test Pond (``CHAIN``, 1.0.0) as ``pond deploy`` uploads it."""
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as entries:
        entries.writestr("pond.toml", f'[pond]\nname = "{NAME}"\nversion = "1.0.0"\n')
        entries.writestr("src/pond.py", CHAIN)
    return archive.getvalue()


class ServedCatchment:
    """The Catchment app serving ``root`` on a free loopback port, on a thread of its own.

    It keeps its own root, apart from the Duck's: nothing it does on disk can stand in for
    what the Duck under test does. It starts no Ducks: no run of its engine begins (the
    commands come from the test), and it keeps no spares.
    """

    def __init__(self, root: Path, *, prefix: str = "") -> None:
        self.app = create_app(CatchmentConfig(root=root, duck_spares=0))
        self.catchment = self.app.state.catchment
        listener = socket.create_server(("127.0.0.1", 0))
        self.address: tuple[str, int] = listener.getsockname()[:2]
        # Served under ``prefix`` as behind a reverse proxy: requests arrive without it.
        self.http = httpx.Client(base_url=f"http://127.0.0.1:{self.address[1]}", trust_env=False)
        config = uvicorn.Config(self.app, log_level="warning", root_path=prefix)
        self.server = uvicorn.Server(config)
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self._serve, args=(listener,), daemon=True)
        self.thread.start()
        wait_until(lambda: self.server.started or not self.thread.is_alive())
        assert self.server.started, "the Catchment did not start"
        answer = self.http.post(
            "/api/deploy", files={"pond": ("pond.zip", pond_archive(), "application/zip")}
        )
        assert answer.status_code == 200, answer.text

    def _serve(self, listener: socket.socket) -> None:
        self.loop.run_until_complete(self.server.serve(sockets=[listener]))

    def on_loop(self, work: Callable[[], T]) -> T:
        """``work()`` on the Catchment's event loop, which alone may touch its job board."""

        async def call() -> T:
            return work()

        return asyncio.run_coroutine_threadsafe(call(), self.loop).result(10)

    def post(self, command: BeginRun | Shutdown) -> float:
        """Queue a command for the test line's Duck; the ``perf_counter`` it was queued at."""

        def queue() -> float:
            at = time.perf_counter()
            self.catchment.board.post(LINE, command)
            return at

        return self.on_loop(queue)

    def pending(self) -> list[BeginRun | Shutdown]:
        """Commands queued for the test line's Duck and not yet taken by a poll."""
        return self.on_loop(lambda: self.catchment.board.pending(LINE))

    def line_status(self) -> dict[str, Any]:
        """The test line's entry in ``GET /api/status``."""
        ponds = self.http.get("/api/status").json()["ponds"]
        (entry,) = [p for p in ponds if p["id"] == LINE]
        return dict(entry)

    def stop(self) -> None:
        if self.thread.is_alive():
            # As a stopping Catchment does, answer the polls first: a stop waits for them.
            self.on_loop(self.catchment.board.release_all)
            self.server.should_exit = True
            self.thread.join(30)
        self.http.close()
        self.loop.close()


@dataclass(frozen=True)
class Answer:
    """The link answers in the Catchment's place; the request never reaches it."""

    status: int
    body: str = '{"detail": "refused"}'


class Cut(enum.Enum):
    """Ways a connection ends where HTTP says nothing."""

    #: The request read and the connection closed unanswered; the Catchment never sees it.
    DROP = "drop"
    #: The Catchment answers (and applied the request); the connection closes instead.
    LOSE = "lose"
    #: The answer passed on, then the connection closed without a word, as a server closes
    #: an idle one.
    AFTER = "after"


Fault = Answer | Cut


class Link:
    """A TCP relay to ``upstream`` that misbehaves when told to, and keeps what went over it.

    With ``tls`` it speaks TLS to the Duck (the Catchment behind it is plain HTTP). Like a
    reverse proxy, it takes ``prefix`` (the path the Catchment is served under) off each
    request's path.
    """

    def __init__(
        self, upstream: tuple[str, int], *, tls: ssl.SSLContext | None = None, prefix: str = ""
    ) -> None:
        self.upstream = upstream
        self.tls = tls
        self.prefix = prefix
        self.cond = threading.Condition()
        #: (connection number, request line) of every request, in order.
        self.requests: list[tuple[int, str]] = []
        self.headers: list[Message] = []
        #: The query of every long poll, as ``parse_qs`` reads it.
        self.polls: list[dict[str, list[str]]] = []
        #: Every event post the Catchment answered with a 200 (the answer lost or not), in order.
        self.batches: list[list[DuckEvent]] = []
        #: Requests the link answered in the Catchment's place with an error.
        self.refused = 0
        #: Long polls the Catchment is answering now.
        self.waiting = 0
        self.connections = 0
        self._faults: dict[str, list[Fault]] = {protocol.JOBS: [], protocol.EVENTS: []}
        self._open: set[socket.socket] = set()
        self._closed = False
        self.listener = socket.create_server(("127.0.0.1", 0))
        port = self.listener.getsockname()[1]
        self.url = f"https://localhost:{port}" if tls else f"http://127.0.0.1:{port}"
        threading.Thread(target=self._accept, daemon=True).start()

    # -- steering it -----------------------------------------------------------------------------

    def next(self, kind: str, *faults: Fault) -> None:
        """Give the next requests of ``kind`` (``protocol.JOBS`` or ``EVENTS``) these faults."""
        with self.cond:
            self._faults[kind].extend(faults)

    def mend(self) -> None:
        """Forget the faults not yet used."""
        with self.cond:
            for faults in self._faults.values():
                faults.clear()

    def close(self) -> None:
        """Stop listening and cut every connection: the Catchment is gone."""
        with self.cond:
            self._closed = True
            self.cond.notify_all()
            sockets = list(self._open)
        self.listener.close()
        for sock in sockets:
            _cut(sock)

    # -- relaying --------------------------------------------------------------------------------

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return  # closed
            with self.cond:
                self.connections += 1
                number = self.connections
            threading.Thread(target=self._relay, args=(client, number), daemon=True).start()

    def _relay(self, client: socket.socket, number: int) -> None:
        if self.tls is not None:
            try:
                client = self.tls.wrap_socket(client, server_side=True)
            except (ssl.SSLError, OSError):
                client.close()  # the Duck did not trust the link
                return
        try:
            upstream = socket.create_connection(self.upstream)
        except OSError:
            client.close()
            return
        with self.cond:
            if self._closed:
                sockets: tuple[socket.socket, ...] = ()
            else:
                sockets = (client, upstream)
                self._open.update(sockets)
        try:
            if sockets:
                self._carry(client, upstream, number)
        except (OSError, ValueError):
            pass  # cut: by close(), or by the Duck or the Catchment going away
        finally:
            with self.cond:
                self._open.difference_update((client, upstream))
            _cut(client)
            _cut(upstream)

    def _carry(self, client: socket.socket, upstream: socket.socket, number: int) -> None:
        from_duck = client.makefile("rb")
        from_catchment = upstream.makefile("rb")
        while True:
            # Between requests only the Duck speaks; the Catchment becoming readable then is it
            # closing the connection, and the Duck must see that close too.
            if not _duck_speaks_first(client, upstream):
                return
            request = _read_message(from_duck)
            if request is None:
                return
            line, headers, body = request
            method, target, _ = line.split(" ", 2)
            kind = protocol.JOBS if target.split("?")[0].endswith("/jobs") else protocol.EVENTS
            with self.cond:
                self.requests.append((number, line))
                self.headers.append(headers)
                if kind == protocol.JOBS:
                    self.polls.append(parse_qs(urlsplit(target).query))
                fault = self._faults[kind].pop(0) if self._faults[kind] else None
            if isinstance(fault, Answer):
                with self.cond:
                    self.refused += fault.status >= 400
                client.sendall(_response(fault.status, fault.body))
                continue
            if fault is Cut.DROP:
                return
            if self.prefix and target.startswith(self.prefix + "/"):
                target = target[len(self.prefix) :]
            upstream.sendall(_message_bytes(f"{method} {target} HTTP/1.1", headers, body))
            with self._polling(kind == protocol.JOBS):
                answer = _read_message(from_catchment)
            if answer is None:
                return
            status_line, answer_headers, answer_body = answer
            if kind == protocol.EVENTS and method == "POST" and status_line.split()[1] == "200":
                with self.cond:
                    self.batches.append(Events.model_validate_json(body).events)
                    self.cond.notify_all()
            if fault is Cut.LOSE:
                return
            client.sendall(_message_bytes(status_line, answer_headers, answer_body))
            if fault is Cut.AFTER or answer_headers.get("connection", "").lower() == "close":
                return

    @contextlib.contextmanager
    def _polling(self, poll: bool) -> Iterator[None]:
        """Count a long poll in :attr:`waiting` while the Catchment answers it."""
        if not poll:
            yield
            return
        with self.cond:
            self.waiting += 1
            self.cond.notify_all()
        try:
            yield
        finally:
            with self.cond:
                self.waiting -= 1


def _duck_speaks_first(client: socket.socket, upstream: socket.socket) -> bool:
    if isinstance(client, ssl.SSLSocket) and client.pending():
        return True
    readable, _, _ = select.select([client, upstream], [], [])
    return client in readable


def _read_message(reader: io.BufferedReader) -> tuple[str, Message, bytes] | None:
    """One HTTP/1.1 request or response with a ``Content-Length`` body (all the protocol
    sends), or None if the peer closed the connection first."""
    line = reader.readline()
    if not line:
        return None
    head = b""
    while (row := reader.readline()) not in (b"\r\n", b"\n", b""):
        head += row
    headers = http.client.parse_headers(io.BytesIO(head + b"\r\n"))
    body = reader.read(int(headers.get("content-length", "0")))
    return line.decode("latin-1").rstrip("\r\n"), headers, body


def _message_bytes(line: str, headers: Message, body: bytes) -> bytes:
    head = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
    return f"{line}\r\n{head}\r\n".encode("latin-1") + body


def _response(status: int, body: str) -> bytes:
    data = body.encode()
    return (
        f"HTTP/1.1 {status} Fault\r\ncontent-type: {protocol.MEDIA_TYPE}\r\n"
        f"content-length: {len(data)}\r\n\r\n"
    ).encode() + data


def _cut(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    sock.close()


class DuckCatchment:
    """What a Duck test steers and reads: the served Catchment and the link in front of it."""

    def __init__(self, root: Path, *, prefix: str = "") -> None:
        self.served = ServedCatchment(root, prefix=prefix)
        self.link = Link(self.served.address, prefix=prefix)
        self.url = self.link.url + prefix

    def close(self) -> None:
        """The Catchment is gone: nothing answers at :attr:`url` any more."""
        self.link.close()

    def stop(self) -> None:
        self.link.close()
        self.served.stop()

    # -- steering --------------------------------------------------------------------------------

    def post(self, command: BeginRun | Shutdown) -> float:
        return self.served.post(command)

    def refuse(self, *statuses: int) -> None:
        """Answer the next event posts with these statuses, in the Catchment's place."""
        self.link.next(protocol.EVENTS, *(Answer(status) for status in statuses))

    def pending(self) -> list[BeginRun | Shutdown]:
        return self.served.pending()

    # -- reading ---------------------------------------------------------------------------------

    @property
    def headers(self) -> list[Message]:
        return self.link.headers

    @property
    def polls(self) -> list[dict[str, list[str]]]:
        return self.link.polls

    @property
    def refused(self) -> int:
        return self.link.refused

    @property
    def batches(self) -> list[list[str]]:
        """The ids of each event post the Catchment accepted, heartbeats included."""
        with self.link.cond:
            return [[e.id for e in batch] for batch in self.link.batches]

    @property
    def events(self) -> list[DuckEvent]:
        """Every event the Catchment accepted, each id once (the first time), in order."""
        with self.link.cond:
            first: dict[str, DuckEvent] = {}
            for batch in self.link.batches:
                for event in batch:
                    first.setdefault(event.id, event)
        return list(first.values())

    def ids(self, *, heartbeats: bool = False) -> list[str]:
        return [e.id for e in self.events if heartbeats or e.type != protocol.HEARTBEAT]

    @property
    def received(self) -> list[str]:
        """The ids of every event the Catchment accepted, replays included, heartbeats not."""
        with self.link.cond:
            batches = list(self.link.batches)
        return [e.id for batch in batches for e in batch if e.type != protocol.HEARTBEAT]

    def wait_for(self, predicate: Callable[[list[DuckEvent]], bool], timeout: float = 30) -> None:
        """Until the events the Catchment accepted satisfy ``predicate``."""
        with self.link.cond:
            if not self.link.cond.wait_for(lambda: predicate(self.events), timeout):
                raise AssertionError(f"timed out; events so far: {self.ids(heartbeats=True)}")

    def wait_for_poll(self, timeout: float = 20) -> None:
        """Until a Duck is waiting in a long poll."""
        with self.link.cond:
            if not self.link.cond.wait_for(lambda: self.link.waiting > 0, timeout):
                raise AssertionError("no Duck polled")


def served_catchment(root: Path) -> Iterator[DuckCatchment]:
    """A fixture's body: a :class:`DuckCatchment` on ``root``, stopped afterwards."""
    made = DuckCatchment(root)
    try:
        yield made
    finally:
        made.stop()
