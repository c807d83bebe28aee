"""The Duck's HTTP side: long-poll the Catchment for commands and post events to it.

The Duck always dials the Catchment, never the reverse. Every request carries the Duck's
identity header, the bearer key when there is one, and any extra headers the Duck was given (a
platform gate in front of the Catchment, say). Failures come back classified: a Catchment that
cannot be reached or answers 5xx is :class:`Unreachable` (back off, try again, forever); one that
refuses the request (401, 404, 422 …) is :class:`Rejected` (say so, keep the events, try later).
"""

from __future__ import annotations

import ssl
from collections.abc import Mapping, Sequence

import httpx
from pydantic import ValidationError

from duckstring.duck.protocol import DUCK_HEADER, BeginRun, Jobs, Shutdown

#: What a plain-HTTP client gets instead of a certificate-checking context (httpx builds some
#: TLS context for every client). Made once, at import, which for a Duck means in the forkserver
#: before the fork: a TLS context made per client cost each new Duck a few ms of CPU.
_NO_TLS = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)


class Unreachable(Exception):
    """The Catchment did not answer usefully (connection error, timeout, 5xx)."""


class Rejected(Exception):
    """The Catchment answered, and refused (4xx, or a body this Duck cannot read)."""

    def __init__(self, status: int, detail: str) -> None:
        self.status = status
        self.detail = detail
        super().__init__(f"HTTP {status}: {detail}")


class CatchmentClient:
    """Requests of one Duck line to one Catchment. Use one per thread.

    It drives an ``httpx.HTTPTransport`` (one kept-alive connection) itself rather than through
    an ``httpx.Client``: every run costs a Duck a long poll and an event post or two, and the
    client's layers (URL merging, cookies, auth and redirect hooks) doubled the CPU of each one.
    Proxies from the environment are not used: a Duck dials its Catchment directly.
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
        poll_wait: float = 25.0,
    ) -> None:
        self.duck_id = duck_id
        self.poll_wait = poll_wait
        self._base = f"{url.rstrip('/')}/api/duck/{pond}/{major}"
        all_headers = {**(headers or {}), DUCK_HEADER: duck_id}
        if api_key:
            all_headers["Authorization"] = f"Bearer {api_key}"
        self._headers = list(all_headers.items())
        # A long poll may legitimately take ``poll_wait``; allow the answer some slack on top.
        self._timeout = httpx.Timeout(
            connect=5.0, read=poll_wait + 10.0, write=10.0, pool=5.0
        ).as_dict()
        # Plain HTTP needs no certificates: loading the CA bundle cost every new Duck ~0.1 s.
        verify: ssl.SSLContext | bool = True if self._base.startswith("https://") else _NO_TLS
        self._transport = httpx.HTTPTransport(verify=verify)

    def close(self) -> None:
        self._transport.close()

    def jobs(self, held: Sequence[int] = ()) -> list[BeginRun | Shutdown]:
        """Commands waiting for this Duck: as soon as one exists, or none after the wait.

        ``held``: runs this Duck holds already (handed to it when it started), whose
        ``begin_run`` the Catchment may drop instead of answering with it."""
        params: dict[str, str | float | list[int]] = {"duck": self.duck_id, "wait": self.poll_wait}
        if held:
            params["held"] = list(held)
        response = self._request("GET", "/jobs", params=params)
        try:
            return Jobs.model_validate_json(response.content).commands
        except ValidationError as error:
            raise Rejected(response.status_code, f"unreadable jobs answer: {error}") from None

    def send(self, body: bytes) -> None:
        """Post one ``Events`` batch (already serialised JSON)."""
        self._request("POST", "/events", content=body, headers=[_JSON])

    def _request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str | float | list[int]] | None = None,
        content: bytes | None = None,
        headers: list[tuple[str, str]] | None = None,
    ) -> httpx.Response:
        try:
            request = httpx.Request(
                method,
                httpx.URL(self._base + path, params=params),
                headers=self._headers + (headers or []),
                content=content,
                extensions={"timeout": self._timeout},
            )
            response = self._transport.handle_request(request)
            try:
                response.read()
            finally:
                response.close()
        except httpx.HTTPError as error:
            raise Unreachable(f"{type(error).__name__}: {error}") from None
        except Exception as error:
            # Trouble below httpx (a codec or resolver error, say) is retried like an outage:
            # a poller or sender thread that died of it would leave the Duck deaf or mute.
            raise Unreachable(f"{type(error).__name__}: {error}") from None
        if response.status_code >= 500:
            raise Unreachable(f"HTTP {response.status_code}")
        if response.status_code >= 400:
            raise Rejected(response.status_code, _detail(response))
        return response


_JSON = ("Content-Type", "application/json")


def _detail(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:200]
    if isinstance(body, dict) and "detail" in body:
        return str(body["detail"])[:200]
    return str(body)[:200]


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
