"""Compact JWTs decoded without verification: routing reads claims, providers verify."""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from ..errors import ExtractError
from ..limits import Limits


def _b64url(seg: str, what: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(seg + "=" * (-len(seg) % 4))
    except (binascii.Error, ValueError) as e:
        raise ExtractError("jwt", f"invalid {what} padding or alphabet") from e


def _object(raw: bytes, what: str) -> dict[str, Any]:
    try:
        obj = json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError) as e:
        raise ExtractError("jwt", f"invalid {what}: not JSON") from e
    if not isinstance(obj, dict):
        raise ExtractError("jwt", f"invalid {what}: must be a JSON object")
    return obj


def read_jwt_claims(token: str, *, limits: Limits) -> dict[str, Any]:
    """Unverified claims of a compact JWS. Raises ``ExtractError`` on any defect."""
    if not isinstance(token, str):
        raise ExtractError("jwt", "token is not text")
    if len(token) > limits.max_jwt:
        raise ExtractError("jwt", f"token over the {limits.max_jwt}-byte limit")
    parts = token.strip().split(".")
    if len(parts) != 3:
        raise ExtractError("jwt", "not enough segments" if len(parts) < 3 else "too many segments (JWE?)")
    _object(_b64url(parts[0], "header"), "header")
    return _object(_b64url(parts[1], "payload"), "payload")


def claim_str(claims: dict[str, Any], name: str) -> str | None:
    v = claims.get(name)
    return v.strip() if isinstance(v, str) and v.strip() else None
