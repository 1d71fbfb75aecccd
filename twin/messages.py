"""The two plain records the twin's servers speak: a request in, a response out.

The proxy (`twin.proxy`) turns bytes into a `Request` and a `Response` back into bytes, so the issuer, Entra ID
and Key Vault twins are plain objects with a `handle(request)` method that tests can also call directly.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs


@dataclass(frozen=True)
class Request:
    method: str
    #: The host the client asked for (the CONNECT target, or the absolute URI's host for plain HTTP).
    host: str
    path: str
    query: str = ""
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""
    #: The address the client's connection reached: `host` as the client's network resolves it (inside the
    #: cluster a vault's private endpoint, outside it the public address).
    address: str = ""

    def header(self, name: str) -> str | None:
        """A header by name, case-insensitively (HTTP header names are)."""
        wanted = name.lower()
        return next((v for k, v in self.headers.items() if k.lower() == wanted), None)

    def form(self) -> dict[str, str]:
        """The body as `application/x-www-form-urlencoded` fields (the first value of each)."""
        return {k: v[0] for k, v in parse_qs(self.body.decode("utf-8", "replace")).items()}

    def params(self) -> dict[str, str]:
        return {k: v[0] for k, v in parse_qs(self.query).items()}


@dataclass(frozen=True)
class Response:
    status: int
    body: bytes = b""
    headers: Mapping[str, str] = field(default_factory=dict)
    #: Drop the connection abruptly (TCP RST) instead of answering: the "connection reset" fault.
    reset: bool = False


def json_response(status: int, payload: Any, headers: Mapping[str, str] | None = None) -> Response:
    return Response(
        status,
        json.dumps(payload).encode(),
        {"Content-Type": "application/json; charset=utf-8", **(headers or {})},
    )


RESET = Response(0, reset=True)
