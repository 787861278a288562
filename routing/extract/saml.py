"""SAML protocol messages in the HTTP-Redirect (deflated) and HTTP-POST bindings.

Reads only the fields routing needs. Every failure is an ``ExtractError``.
"""

from __future__ import annotations

import base64
import binascii
import re
import zlib
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import unquote_to_bytes

from ..errors import ExtractError
from ..limits import Limits
from .xml import parse_xml, text_of

if TYPE_CHECKING:
    from lxml import etree  # annotations only: parsing goes through .xml

P = "{urn:oasis:names:tc:SAML:2.0:protocol}"
A = "{urn:oasis:names:tc:SAML:2.0:assertion}"
_KINDS = {
    "Response",
    "AuthnRequest",
    "LogoutRequest",
    "LogoutResponse",
    "ArtifactResolve",
    "ArtifactResponse",
    "AttributeQuery",
    "AuthnQuery",
    "ManageNameIDRequest",
    "ManageNameIDResponse",
}


@dataclass(frozen=True, slots=True)
class SamlMessage:
    kind: str
    id: str | None
    in_response_to: str | None
    issuer: str | None
    destination: str | None
    audiences: tuple[str, ...]
    name_id: str | None


def decode_b64(value: str | bytes, *, max_size: int, kind: str = "saml") -> bytes:
    raw = value.encode("ascii", "replace") if isinstance(value, str) else value
    if len(raw) > max_size * 4 // 3 + 1024:
        raise ExtractError(kind, "base64 payload over the size limit")
    for compact in _readings(raw):
        try:
            return binascii.a2b_base64(compact, strict_mode=True)
        except (binascii.Error, ValueError):
            pass
    try:  # the URL-safe alphabet
        return base64.b64decode(raw.translate(None, b" \t\r\n"), altchars=b"-_", validate=True)
    except (binascii.Error, ValueError) as e:
        raise ExtractError(kind, "malformed base64") from e


def _readings(raw: bytes) -> tuple[bytes, ...]:
    """What the base64 text says, most likely first. SAML libraries wrap it over several lines
    (indented, CRLF); a careless form encoder sends its '+' unescaped, so they arrive as spaces.
    A space in the text is such a '+', whatever their count (dropping them instead decodes
    strictly, into garbage, when their count is a multiple of 4) — except the indentation all
    lines share. Then, should that guess not decode: spaces around each line are layout; every
    space is a '+'."""
    if not (b" " in raw or b"\n" in raw or b"\r" in raw or b"\t" in raw):
        return (raw,)
    raw = raw.replace(b"\t", b"")
    if b"\n" not in raw and b"\r" not in raw:
        every = raw.replace(b" ", b"+")
        return (every,) if raw.strip(b" ") == raw else (every, raw.strip(b" ").replace(b" ", b"+"))
    lines = [line for line in raw.splitlines() if line.strip(b" ")]
    indent = min((len(line) - len(line.lstrip(b" ")) for line in lines), default=0)
    out = (
        b"".join(line[indent:] for line in lines).replace(b" ", b"+"),
        b"".join(line.strip(b" ") for line in lines).replace(b" ", b"+"),
        b"".join(lines).replace(b" ", b"+"),
    )
    return tuple(dict.fromkeys(out))


def inflate(data: bytes, *, max_size: int, kind: str = "saml") -> bytes:
    """Raw DEFLATE (zlib-wrapped accepted too), never more than ``max_size`` bytes out."""
    for wbits in (-15, 47):
        d = zlib.decompressobj(wbits)
        try:
            out = d.decompress(data, max_size)
        except zlib.error:
            continue
        if d.unconsumed_tail:
            raise ExtractError(kind, f"inflates past the {max_size}-byte limit")
        return out
    raise ExtractError(kind, "malformed DEFLATE data")


def parse_saml(value: str | bytes, *, deflated: bool, limits: Limits) -> SamlMessage:
    """Decode one SAMLRequest/SAMLResponse parameter value (already URL-decoded)."""
    data = decode_b64(value, max_size=limits.max_xml)
    if deflated:
        data = inflate(data, max_size=limits.max_inflate)
    return read_saml_xml(data, limits)


_ISSUER, _ASSERTION, _NAMEID = A + "Issuer", A + "Assertion", A + "NameID"
_SUBJECT, _CONDITIONS, _RESTRICTION, _AUDIENCE = (
    A + "Subject",
    A + "Conditions",
    A + "AudienceRestriction",
    A + "Audience",
)


def read_saml_xml(data: bytes, limits: Limits) -> SamlMessage:
    root = parse_xml(data, max_size=limits.max_xml, kind="saml")
    tag = root.tag if isinstance(root.tag, str) else ""
    if not tag.startswith(P) or tag[len(P) :] not in _KINDS:
        raise ExtractError("saml", "not a SAML 2.0 protocol message")
    issuer = name_id = assertion = None
    for child in root:  # walked, not find()-ed: a namespaced find() costs several times more
        t = child.tag
        if t == _ISSUER and issuer is None:
            issuer = text_of(child)
        elif t == _ASSERTION and assertion is None:
            assertion = child
        elif t == _NAMEID and name_id is None:  # LogoutRequest
            name_id = text_of(child)
    audiences: list[str] = []
    if assertion is not None:
        for child in assertion:
            t = child.tag
            if t == _ISSUER and issuer is None:
                issuer = text_of(child)
            elif t == _SUBJECT and name_id is None:
                for sub in child:
                    if sub.tag == _NAMEID:
                        name_id = text_of(sub)
                        break
            elif t == _CONDITIONS:
                for cond in child:
                    if cond.tag == _RESTRICTION:
                        audiences += [a for a in (text_of(el) for el in cond if el.tag == _AUDIENCE) if a]
    return SamlMessage(
        kind=tag[len(P) :],
        id=_attr(root, "ID"),
        in_response_to=_attr(root, "InResponseTo"),
        issuer=issuer,
        destination=_attr(root, "Destination"),
        audiences=tuple(audiences),
        name_id=name_id,
    )


def _attr(el: etree._Element, name: str) -> str | None:
    v = el.get(name)
    return v.strip() or None if v is not None else None


# -- the head of a POSTed Response: root attributes and the Issuer, without the rest -------------

HEAD_B64 = 2048  # URL-encoded characters decoded for the head: up to 1,536 bytes of XML
_ROOT_NAME = re.compile(rb"<([A-Za-z_][\w.\-]*(?::[A-Za-z_][\w.\-]*)?)[\s/>]")
_ISSUER_END = re.compile(rb"</(?:[A-Za-z_][\w.\-]*:)?Issuer\s*>")


def read_saml_head(form_value: bytes, limits: Limits) -> SamlMessage | None:
    """The root element's attributes and the first top-level ``Issuer`` of a SAML message, read
    from a URL-encoded HTTP-POST form value by decoding and parsing only its first ~1.5 KB.

    The head is cut right after the first ``</…Issuer>`` and closed with the root's end tag; that
    small document goes through the same hardened ``parse_xml``. A cut in the wrong place (an
    ``</Issuer>`` in a comment or CDATA, the Assertion's Issuer when the Response has none) makes it
    ill-formed, and a well-formed head is a prefix of the whole document, so it reads exactly what
    a full parse reads there. Returns None whenever the head cannot be read that way (line-wrapped
    or form-mangled base64, no Issuer near the top, an over-limit value, ...): the caller then
    parses the whole message, which also reports what is wrong with it. Audiences and NameID are
    never read here."""
    if len(form_value) > limits.max_xml * 4 // 3 or form_value.find(b"+", 0, HEAD_B64) >= 0:
        return None  # over the limit, or a '+' (a form encoder's space): the full parse says what is wrong
    raw = form_value[:HEAD_B64]
    if len(raw) < len(form_value) and b"%" in raw[-2:]:
        raw = raw[: raw.rindex(b"%")]  # never split a %XX escape
    b64 = unquote_to_bytes(raw)
    if b"\n" in b64 or b"\r" in b64 or b" " in b64 or b"\t" in b64:
        return None  # line-wrapped base64
    if len(raw) < len(form_value):
        b64 = b64[: len(b64) // 4 * 4]
    try:
        head = binascii.a2b_base64(b64, strict_mode=True)
    except (binascii.Error, ValueError):
        return None
    end = _ISSUER_END.search(head)
    root = _ROOT_NAME.search(head)
    if end is None or root is None or root.start() > end.start():
        return None
    try:
        el = parse_xml(head[: end.end()] + b"</" + root.group(1) + b">", max_size=limits.max_xml, kind="saml")
    except ExtractError:
        return None
    tag = el.tag if isinstance(el.tag, str) else ""
    if not tag.startswith(P) or tag[len(P) :] not in _KINDS:
        return None
    issuer = next((text_of(child) for child in el if child.tag == _ISSUER), None)
    if issuer is None:
        return None
    return SamlMessage(
        kind=tag[len(P) :],
        id=_attr(el, "ID"),
        in_response_to=_attr(el, "InResponseTo"),
        issuer=issuer,
        destination=_attr(el, "Destination"),
        audiences=(),
        name_id=None,
    )
