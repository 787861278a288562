"""A SAML IdP's entity id from its metadata document (an ``EntityDescriptor`` with an
``IDPSSODescriptor``), read with the router's one hardened XML parser. Fetching a metadata URL
is the caller's choice (``--fetch-metadata``): bounded in time and size, http(s) only."""

from __future__ import annotations

import urllib.error
import urllib.request

from ..errors import ExtractError
from ..extract.xml import parse_xml

MD = "{urn:oasis:names:tc:SAML:2.0:metadata}"
MAX_METADATA = 1024 * 1024
FETCH_TIMEOUT = 10.0


class MetadataError(ValueError):
    pass


def idp_entity_id(xml: str | bytes) -> str:
    """The entity id of the one IdP the document describes. Raises ``MetadataError``."""
    data = xml.encode("utf-8") if isinstance(xml, str) else xml
    try:
        root = parse_xml(data.strip(), max_size=MAX_METADATA, kind="metadata")
    except ExtractError as e:
        raise MetadataError(e.msg) from e
    if root.tag == MD + "EntityDescriptor":
        entities = [root]
    elif root.tag == MD + "EntitiesDescriptor":
        entities = list(root.iter(MD + "EntityDescriptor"))
    else:
        raise MetadataError("not SAML 2.0 metadata (no EntityDescriptor)")
    idps = [e for e in entities if e.find(MD + "IDPSSODescriptor") is not None]
    if len(idps) != 1:
        raise MetadataError(f"describes {len(idps)} identity providers, not one")
    entity = (idps[0].get("entityID") or "").strip()
    if not entity:
        raise MetadataError("the EntityDescriptor has no entityID")
    return entity


def fetch(url: str, *, timeout: float = FETCH_TIMEOUT) -> bytes:
    """GET ``url`` (http or https, certificates verified), at most ``MAX_METADATA`` bytes.
    Raises ``MetadataError``."""
    if not url.lower().startswith(("https://", "http://")):
        raise MetadataError("only http(s) metadata URLs are fetched")
    req = urllib.request.Request(url, headers={"Accept": "application/samlmetadata+xml, application/xml, */*"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:  # scheme checked above
            body: bytes = resp.read(MAX_METADATA + 1)
    except (urllib.error.URLError, OSError, ValueError) as e:
        raise MetadataError(f"could not fetch: {getattr(e, 'reason', e)}") from e
    if len(body) > MAX_METADATA:
        raise MetadataError(f"over {MAX_METADATA} bytes")
    return body


class MetadataSource:
    """How a reader turns a metadata URL into an entity id: fetched only when the user asked."""

    def __init__(self, fetch_urls: bool, timeout: float = FETCH_TIMEOUT) -> None:
        self.fetch_urls = fetch_urls
        self.timeout = timeout

    def from_url(self, url: str) -> str:
        """Raises ``MetadataError`` (``NotFetched`` when fetching is off)."""
        if not self.fetch_urls:
            raise NotFetched(url)
        return idp_entity_id(fetch(url, timeout=self.timeout))


class NotFetched(MetadataError):
    def __init__(self, url: str) -> None:
        self.url = url
        super().__init__(f"IdP metadata only at {url}: not fetched (--fetch-metadata fetches it)")
