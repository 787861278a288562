"""Text fit for a log line, an error message or the health page: no secrets, no credentials.

``safe_url`` drops a URL's user, password and query (store URLs carry them: ``redis://:pw@h``,
``?password=``). ``redact`` scrubs free text that may quote a request (mitmproxy's protocol errors
do: ``Bad HTTP request line: b'GET /cb?code=…'``): quoted bytes, query values, credentials in
URLs, ``Authorization``/``Cookie`` values and JWT-shaped strings are replaced by stand-ins.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit, urlunsplit

REDACTED = "<redacted>"

_BYTES_LITERAL = re.compile(r"""\bb(['"])(?:\\.|(?!\1).)*\1""")
_USERINFO = re.compile(r"(\b[A-Za-z][A-Za-z0-9+.-]*://)[^/\s'\"@]+@")
_QUERY_VALUE = re.compile(r"([?&][^=\s&#'\"]*=)[^&\s#'\"]+")
_CREDENTIAL_HEADER = re.compile(
    r"(?i)\b(authorization|proxy-authorization|cookie|set-cookie|x-api-key|cname-api-key)(\s*[:=]\s*)[^\r\n'\"]*"
)
_AUTH_SCHEME = re.compile(r"(?i)\b(bearer|basic|digest|negotiate)\s+[A-Za-z0-9._~+/=-]{8,}")
_JWT = re.compile(r"\beyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*")


def safe_url(url: str) -> str:
    """``url`` without user, password or query (redis-py also takes ``?password=``)."""
    try:
        parts = urlsplit(url)
        return urlunsplit((parts.scheme, parts.netloc.rpartition("@")[2], parts.path, "", ""))
    except ValueError:
        return "<unparseable URL>"


def redact(text: str) -> str:
    """``text`` with every request fragment that can carry a secret replaced (idempotent)."""
    if not text:
        return text
    text = _BYTES_LITERAL.sub(lambda m: f"b{m.group(1)}{REDACTED}{m.group(1)}", text)
    text = _USERINFO.sub(r"\1", text)
    text = _CREDENTIAL_HEADER.sub(lambda m: f"{m.group(1)}{m.group(2)}{REDACTED}", text)
    text = _AUTH_SCHEME.sub(lambda m: f"{m.group(1)} {REDACTED}", text)
    text = _JWT.sub(REDACTED, text)
    return _QUERY_VALUE.sub(
        lambda m: m.group(1) + REDACTED if m.group(0)[len(m.group(1)) :] != REDACTED else m.group(0), text
    )
