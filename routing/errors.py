"""The core's error types. Nothing here imports another routing module."""

from __future__ import annotations

from typing import Literal


class MappingError(ValueError):
    """A mapping file that cannot be used. ``key`` is the dotted TOML key at fault."""

    def __init__(self, key: str, msg: str, line: int | None = None) -> None:
        self.key = key
        self.line = line
        self.msg = msg
        where = f" (line {line})" if line else ""
        super().__init__(f"{key}{where}: {msg}" if key else f"{msg}{where}")


class ExtractError(ValueError):
    """One payload could not be read. ``kind`` names the payload (saml, jwt, json, ...)."""

    def __init__(self, kind: str, msg: str) -> None:
        self.kind = kind
        self.msg = msg
        super().__init__(f"{kind}: {msg}")


StoreFailure = Literal["timeout", "refused", "error", "closed"]


class StoreUnavailable(RuntimeError):
    """The correlation store did not answer. ``kind``: ``timeout`` (too slow), ``refused`` (nothing
    listens: down for sure), ``error`` (any other failure), ``closed`` (the router is stopping)."""

    def __init__(self, msg: str, kind: StoreFailure = "error") -> None:
        self.kind: StoreFailure = kind
        super().__init__(msg)
