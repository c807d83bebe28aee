"""The CLI's one HTTP client: a registered Catchment's URL, key and headers on every request,
and every expected failure turned into one clear line."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from duckstring.remote.config import Registration

#: A query is bounded by the Catchment (its DUCKSTRING_QUERY_TIMEOUT, and a file is written
#: whole before it is sent): wait as long as it takes for the answer to start, not 30 s.
QUERY_TIMEOUT = httpx.Timeout(30.0, read=None)
_CHUNK = 1024 * 1024


class ClientError(RuntimeError):
    """A request that failed in a way the user can act on."""


@dataclass
class QueryAnswer:
    """``POST /api/query`` without a format: the row objects, the column names (the rows'
    keys, also known when there are no rows) and whether the rows stop at the server's cap."""

    rows: list[dict[str, Any]]
    columns: list[str]
    truncated: bool


class CatchmentClient:
    def __init__(self, registration: Registration, timeout: float = 30.0) -> None:
        self.registration = registration
        headers = dict(registration.headers)
        if registration.key:
            headers["Authorization"] = f"Bearer {registration.key}"
        self.base = registration.url.rstrip("/")
        self.http = httpx.Client(base_url=self.base, headers=headers, timeout=timeout)

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> CatchmentClient:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        with self._reaching():
            response = self.http.request(method, f"/api{path}", **kwargs)
        self._check(response)
        return response

    def get(self, path: str, **kwargs: Any) -> Any:
        return self.request("GET", path, **kwargs).json()

    def post(self, path: str, **kwargs: Any) -> Any:
        return self.request("POST", path, **kwargs).json()

    def download(self, method: str, path: str, target: Path, **kwargs: Any) -> Path:
        """Stream the answer's body into ``target``: a large file never sits in memory, a
        failed request writes nothing, and a broken transfer leaves no partial file."""
        partial = target.with_name(f".{target.name}.partial")
        with self._reaching(), self.http.stream(method, f"/api{path}", **kwargs) as response:
            if response.status_code >= 400:
                response.read()
                self._check(response)
            target.parent.mkdir(parents=True, exist_ok=True)
            try:
                with open(partial, "wb") as out:
                    for chunk in response.iter_bytes(_CHUNK):
                        out.write(chunk)
                partial.replace(target)
            except httpx.TransportError:
                raise ClientError(
                    f"the download from the Catchment at {self.base} broke off"
                ) from None
            finally:
                partial.unlink(missing_ok=True)
        return target

    def query(self, body: dict[str, Any]) -> QueryAnswer:
        """``POST /api/query`` for JSON rows (``body`` without a format)."""
        response = self.request("POST", "/query", json=body, timeout=QUERY_TIMEOUT)
        rows = response.json()
        if not isinstance(rows, list):
            raise ClientError(
                f"the Catchment at {self.base} answered the query with something other than "
                "a list of rows: is it a Duckstring Catchment of this version?"
            )
        columns = _column_names(response.headers.get("X-Duckstring-Columns"))
        if not columns and rows:
            columns = list(rows[0])
        truncated = response.headers.get("X-Duckstring-Truncated", "").lower() == "true"
        return QueryAnswer(rows, columns, truncated)

    def query_file(self, body: dict[str, Any], fmt: str, target: Path) -> Path:
        """``POST /api/query`` with ``format``: the whole result streamed into ``target``."""
        return self.download(
            "POST", "/query", target, json={**body, "format": fmt}, timeout=QUERY_TIMEOUT
        )

    @contextlib.contextmanager
    def _reaching(self) -> Iterator[None]:
        """Reaching the Catchment at all: a timeout or a refused connection as one line."""
        try:
            yield
        except httpx.TimeoutException:
            raise ClientError(f"the Catchment at {self.base} did not answer in time") from None
        except httpx.TransportError:
            raise ClientError(
                f"cannot reach the Catchment at {self.base}: is it running? "
                f"(start a local one with `duckstring catchment start "
                f"{self.registration.name}`)"
            ) from None

    def _check(self, response: httpx.Response) -> None:
        if response.status_code == 401:
            raise ClientError(
                f"the Catchment at {self.base} needs an API key: register it with "
                f"`duckstring catchment connect -n {self.registration.name} --path {self.base} "
                "--key KEY`"
            )
        if response.status_code >= 400:
            raise ClientError(_detail(response))


def _column_names(header: str | None) -> list[str]:
    """The columns header's names; none if it is missing (the server may leave it out)."""
    try:
        names = json.loads(header) if header else []
    except ValueError:
        return []
    return [str(name) for name in names] if isinstance(names, list) else []


def _detail(response: httpx.Response) -> str:
    try:
        detail = response.json().get("detail")
    except ValueError:
        detail = None
    if isinstance(detail, list):  # pydantic validation errors
        detail = "; ".join(
            f"{'.'.join(str(p) for p in item.get('loc', [])[1:])}: {item.get('msg')}"
            for item in detail
        )
    return str(detail or f"the Catchment answered {response.status_code}")
