"""A stand-in Catchment for Duck tests: the worker protocol and nothing else.

It serves ``GET /api/duck/{name}/{major}/jobs`` as a real long poll and records every
``POST …/events`` batch, and can be told to refuse the next N event posts with a status (503 to
play an outage, 401 for a wrong key). The real server's end-to-end tests live elsewhere.
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

from duckstring.duck.protocol import BeginRun, Jobs, Shutdown


class FakeCatchment:
    def __init__(self, name: str = "pond", major: int = 1) -> None:
        self.prefix = f"/api/duck/{name}/{major}"
        self.commands: list[BeginRun | Shutdown] = []
        self.events: list[dict[str, Any]] = []
        self.received: list[str] = []  # every id accepted, replays included
        self.batches: list[list[str]] = []  # the ids of each accepted post, heartbeats too
        self.headers: list[dict[str, str]] = []
        self.polls: list[dict[str, list[str]]] = []  # the query of every long poll
        self.refusals: list[int] = []  # statuses for the next event posts
        self.refused = 0
        self.waiting = 0  # long polls in progress
        self.posted_at: dict[int, float] = {}
        self.cond = threading.Condition()
        self.closed = False
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                fake.handle_jobs(self)

            def do_POST(self) -> None:
                fake.handle_events(self)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        with self.cond:
            self.closed = True
            self.cond.notify_all()
        self.server.shutdown()
        self.server.server_close()

    # -- steering it -----------------------------------------------------------------------------

    def post(self, command: BeginRun | Shutdown) -> float:
        """Queue a command; returns the ``perf_counter`` at which it became available."""
        with self.cond:
            at = time.perf_counter()
            self.commands.append(command)
            self.cond.notify_all()
        return at

    def wait_for_poll(self, timeout: float = 20.0) -> None:
        """Until a Duck is waiting in a long poll."""
        with self.cond:
            if not self.cond.wait_for(lambda: self.waiting > 0, timeout):
                raise AssertionError("no Duck polled")

    def refuse(self, *statuses: int) -> None:
        with self.cond:
            self.refusals.extend(statuses)

    def wait_for(self, predicate: Any, timeout: float = 30.0) -> None:
        with self.cond:
            if not self.cond.wait_for(lambda: predicate(self.events), timeout):
                raise AssertionError(f"timed out; events so far: {self.ids(heartbeats=True)}")

    def ids(self, *, heartbeats: bool = False) -> list[str]:
        return [e["id"] for e in self.events if heartbeats or e["type"] != "heartbeat"]

    # -- serving ---------------------------------------------------------------------------------

    def handle_jobs(self, request: BaseHTTPRequestHandler) -> None:
        url = urlparse(request.path)
        if url.path != self.prefix + "/jobs":
            return self._answer(request, 404, {"detail": "unknown line"})
        query = parse_qs(url.query)
        wait = float(query.get("wait", ["25"])[0])
        with self.cond:
            self.polls.append(query)
            self.headers.append(dict(request.headers))
            self.waiting += 1
            self.cond.notify_all()
            self.cond.wait_for(lambda: self.commands or self.closed, wait)
            self.waiting -= 1
            commands, self.commands = self.commands, []
        self._answer(request, 200, json.loads(Jobs(commands=commands).model_dump_json()))

    def handle_events(self, request: BaseHTTPRequestHandler) -> None:
        length = int(request.headers.get("Content-Length", "0"))
        body = json.loads(request.rfile.read(length))
        with self.cond:
            self.headers.append(dict(request.headers))
            if self.refusals:
                status = self.refusals.pop(0)
                self.refused += 1
                return self._answer(request, status, {"detail": "refused"})
            seen = {e["id"] for e in self.events}
            self.batches.append([e["id"] for e in body["events"]])
            self.received.extend(e["id"] for e in body["events"] if e["type"] != "heartbeat")
            for event in body["events"]:
                if event["id"] not in seen:  # applied once, like the real one
                    self.events.append(event)
            self.cond.notify_all()
        self._answer(request, 200, {"ok": True})

    def _answer(self, request: BaseHTTPRequestHandler, status: int, body: Any) -> None:
        data = json.dumps(body).encode()
        try:
            request.send_response(status)
            request.send_header("Content-Type", "application/json")
            request.send_header("Content-Length", str(len(data)))
            request.end_headers()
            request.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the Duck went away mid-poll
