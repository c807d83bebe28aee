"""The CLI's one HTTP client: a registered Catchment's URL, key and headers on every request,
and every expected failure turned into one clear line."""

from __future__ import annotations

from typing import Any

import httpx

from duckstring.remote.config import Registration


class ClientError(RuntimeError):
    """A request that failed in a way the user can act on."""


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
        try:
            response = self.http.request(method, f"/api{path}", **kwargs)
        except httpx.TimeoutException:
            raise ClientError(f"the Catchment at {self.base} did not answer in time") from None
        except httpx.TransportError:
            raise ClientError(
                f"cannot reach the Catchment at {self.base}: is it running? "
                f"(start a local one with `duckstring catchment start "
                f"{self.registration.name}`)"
            ) from None
        if response.status_code == 401:
            raise ClientError(
                f"the Catchment at {self.base} needs an API key: register it with "
                f"`duckstring catchment connect -n {self.registration.name} --path {self.base} "
                "--key KEY`"
            )
        if response.status_code >= 400:
            raise ClientError(_detail(response))
        return response

    def get(self, path: str, **kwargs: Any) -> Any:
        return self.request("GET", path, **kwargs).json()

    def post(self, path: str, **kwargs: Any) -> Any:
        return self.request("POST", path, **kwargs).json()


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
