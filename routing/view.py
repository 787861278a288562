"""What the core sees of an HTTP exchange: plain data, built by the edge from a flow."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol


def host_of(authority: str) -> str:
    """The host of an authority or netloc (``Host``, ``:authority``, ``user@host:port``, ``[::1]:80``),
    lower-case, without port."""
    h = authority.rsplit("@", 1)[-1].strip().lower()
    if h.startswith("["):
        return h[1:].split("]", 1)[0]
    return h.rsplit(":", 1)[0] if h.count(":") == 1 else h


def media_type(value: str | None) -> str:
    """``type/subtype`` of a Content-Type, lower-case, without parameters."""
    return value.split(";", 1)[0].strip().lower() if value else ""


class HeaderLookup(Protocol):
    """Case-insensitive header access: the plain dict with lower-case keys both edges pass, or mitmproxy's
    ``Headers``. Positional-only, as ``dict.get`` is, so a ``dict[str, str]`` satisfies it."""

    def get(self, name: str, /) -> str | None: ...


_no_headers: Callable[[], dict[str, str]] = dict  # the builtin itself (no wrapper call per view), typed


# Views are built per request and never changed after (treat as immutable); not frozen only
# because a frozen dataclass costs ~4x as much to construct.
@dataclass(slots=True)
class RequestView:
    method: str
    host: str  # the request's authority host, lower-case, no port
    path: str  # without query
    query: str = ""  # raw query string, no '?'
    headers: HeaderLookup = field(default_factory=_no_headers)
    body: bytes = b""
    content_type: str = ""  # lower-case media type without parameters
    sticky: str | None = None  # the router's own cookie value, if the browser sent one
    body_note: str | None = None  # why the body is not inspected, when the edge could not decode it


@dataclass(slots=True)
class ResponseView:
    status: int
    location: str | None
    content_type: str = ""
    body: bytes = b""
