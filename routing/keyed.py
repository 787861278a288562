"""The one keyed hash the router uses: BLAKE2b in its keyed (MAC) mode, RFC 7693 §2.5.

It signs the sticky cookie and names correlation-store entries. An HMAC-SHA256 through
keyed BLAKE2b does HMAC-SHA256's job at a fraction of ``hmac.digest``'s cost (which sets up an
OpenSSL context per call); the router makes two or three such calls per request.
"""

from __future__ import annotations

import hashlib

_KEYS: dict[bytes, bytes] = {}  # sso_secret -> BLAKE2b key; a process sees one or two secrets


def _key(secret: bytes) -> bytes:
    key = _KEYS.get(secret)
    if key is None:
        # any length of secret becomes a full-size key (BLAKE2b takes at most 64 bytes)
        key = hashlib.blake2b(secret, digest_size=64, person=b"sso-router-key").digest()
        if len(_KEYS) > 16:
            _KEYS.clear()
        _KEYS[secret] = key
    return key


def mac(secret: bytes, data: bytes, size: int = 32) -> bytes:
    """A ``size``-byte tag of ``data`` under ``secret``. Callers separate their uses by a prefix."""
    return hashlib.blake2b(data, key=_key(secret), digest_size=size).digest()


def mac_hex(secret: bytes, data: bytes, size: int = 20) -> str:
    return mac(secret, data, size).hex()
