"""The only XML parser the router uses: no DTD, no entities, no network, bounded."""

from __future__ import annotations

import re

from lxml import etree

from ..errors import ExtractError

_PARSER_SETTINGS = dict(
    resolve_entities=False,
    no_network=True,
    load_dtd=False,
    dtd_validation=False,
    remove_comments=True,  # a comment inside <Issuer> must not split what we read
    remove_pis=True,
    huge_tree=False,  # keeps libxml2's depth and text-size caps
    collect_ids=False,
)


def _parser() -> etree.XMLParser:
    return etree.XMLParser(**_PARSER_SETTINGS)


_PARSER = _parser()
_ROOT_START = re.compile(
    rb"<[A-Za-z_]"
)  # lxml parsers are reusable but not thread-safe; the router calls from one thread


def parse_xml(data: bytes, *, max_size: int, kind: str = "xml") -> etree._Element:
    """Parse untrusted XML. Refuses DTDs/entities outright; raises ``ExtractError`` only."""
    if len(data) > max_size:
        raise ExtractError(kind, f"document of {len(data)} bytes is over the {max_size}-byte limit")
    m = _ROOT_START.search(data)
    prolog = data[: m.start()] if m else data  # a DTD can only stand before the root element
    if b"<!DOCTYPE" in prolog.upper() or b"<!ENTITY" in prolog.upper():
        raise ExtractError(kind, "DTDs and entities are refused")
    try:
        root = etree.fromstring(data, _PARSER)
    except (etree.XMLSyntaxError, ValueError) as e:
        raise ExtractError(kind, f"not well-formed XML: {str(e)[:120]}") from e
    if root is None:
        raise ExtractError(kind, "empty document")
    info = root.getroottree().docinfo
    if info.doctype or info.internalDTD is not None:
        raise ExtractError(kind, "DTDs are refused")
    return root


def text_of(el: etree._Element | None) -> str | None:
    """All text inside ``el`` (comments already removed), trimmed; None when absent or empty."""
    if el is None:
        return None
    s = "".join(el.itertext()).strip()
    return s or None
