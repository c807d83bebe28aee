"""A real receiver of alerts: an HTTP server on a free 127.0.0.1 port that records every post
Apprise's ``json://`` service makes to it."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class Receiver:
    """Answers the statuses in ``statuses`` in turn, then 200; while :attr:`hanging` is set,
    every request waits (unanswered) until it is cleared or the receiver closes."""

    def __init__(self, statuses: tuple[int, ...] = ()) -> None:
        self.posts: list[dict[str, Any]] = []
        self.statuses = list(statuses)
        self.hanging = threading.Event()
        self.arrived = threading.Event()  # a request has come in (set before it hangs)
        self._released = threading.Event()
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                receiver.arrived.set()
                while receiver.hanging.is_set() and not receiver._released.wait(0.05):
                    pass
                with receiver._lock:
                    receiver.posts.append(json.loads(body))
                    status = receiver.statuses.pop(0) if receiver.statuses else 200
                self.send_response(status)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def port(self) -> int:
        return int(self.server.server_address[1])

    def url(self, path: str = "alerts") -> str:
        return f"json://127.0.0.1:{self.port}/{path}"

    def close(self) -> None:
        self._released.set()
        self.server.shutdown()
        self.server.server_close()

    def __enter__(self) -> Receiver:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()
