"""The SAML service-provider half of a provider connection (pysaml2 ``Saml2Client``).

SP-initiated responses are checked strictly (``allow_unsolicited=False``): signature, audience,
Destination among this SP's ACS URLs, and InResponseTo = a request *this* SP sent. Unsolicited
(IdP-initiated) responses are accepted only when the caller says so.
"""

from __future__ import annotations

import base64
import threading

import saml2
from lxml import etree
from saml2 import saml
from saml2.client import Saml2Client
from saml2.config import SPConfig
from saml2.metadata import entity_descriptor

XMLSEC = "/usr/bin/xmlsec1"
SAMLP = "urn:oasis:names:tc:SAML:2.0:protocol"


class SamlRejected(Exception):
    pass


def sp_config(entity_id: str, acs_urls: list[str], idp_metadata: list[str]) -> dict:
    conf = {
        "entityid": entity_id,
        "service": {
            "sp": {
                "endpoints": {"assertion_consumer_service": [(u, saml2.BINDING_HTTP_POST) for u in acs_urls]},
                "allow_unsolicited": False,
                "authn_requests_signed": False,
                "want_response_signed": True,
                "want_assertions_signed": True,
                "name_id_format": saml.NAMEID_FORMAT_EMAILADDRESS,
            },
        },
        "xmlsec_binary": XMLSEC,
        "accepted_time_diff": 120,
    }
    if idp_metadata:
        conf["metadata"] = {"inline": idp_metadata}
    return conf


def sp_metadata(entity_id: str, acs_urls: list[str]) -> str:
    """Metadata an IdP trusts for this SP (the ACS URLs in order; the first is the default)."""
    return str(entity_descriptor(SPConfig().load(sp_config(entity_id, acs_urls, []))))


def peek(saml_response_b64: str) -> tuple[str | None, str | None]:
    """(InResponseTo, Issuer) of a posted SAMLResponse, without trusting it."""
    xml = base64.b64decode(saml_response_b64, validate=False)
    parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)
    root = etree.fromstring(xml, parser)
    issuer = root.find("{urn:oasis:names:tc:SAML:2.0:assertion}Issuer")
    return root.get("InResponseTo"), (issuer.text.strip() if issuer is not None and issuer.text else None)


class SamlSP:
    def __init__(self, entity_id: str, acs_urls: list[str], idp_entity_id: str, idp_metadata: str):
        self.entity_id = entity_id
        self.acs_urls = list(acs_urls)
        self.idp_entity_id = idp_entity_id
        self.client = Saml2Client(config=SPConfig().load(sp_config(entity_id, acs_urls, [idp_metadata])))
        self._lock = threading.Lock()

    def authn_request_location(self, relay_state: str) -> tuple[str, str]:
        """(request ID, Location of the IdP's SSO URL with a deflated SAMLRequest and RelayState)."""
        with self._lock:
            req_id, info = self.client.prepare_for_authenticate(
                entityid=self.idp_entity_id,
                relay_state=relay_state,
                binding=saml2.BINDING_HTTP_REDIRECT,
                assertion_consumer_service_url=self.acs_urls[0],
                nameid_format=saml.NAMEID_FORMAT_EMAILADDRESS,
            )
        location = dict(info["headers"])["Location"]
        return req_id, location

    def authn_request_page(self, relay_state: str) -> tuple[str, str]:
        """(request ID, an auto-post HTML page carrying the SAMLRequest, not deflated, and RelayState to
        the IdP's SSO URL): the HTTP-POST binding, as providers send large or signed requests."""
        with self._lock:
            req_id, info = self.client.prepare_for_authenticate(
                entityid=self.idp_entity_id,
                relay_state=relay_state,
                binding=saml2.BINDING_HTTP_POST,
                assertion_consumer_service_url=self.acs_urls[0],
                nameid_format=saml.NAMEID_FORMAT_EMAILADDRESS,
            )
        return req_id, info["data"]

    def consume(self, saml_response_b64: str, *, in_response_to: str | None, allow_unsolicited: bool) -> str:
        """Verifies a posted response; returns the NameID. Raises SamlRejected with the reason."""
        outstanding = {in_response_to: "/"} if in_response_to else {}
        with self._lock:
            self.client.allow_unsolicited = allow_unsolicited
            try:
                resp = self.client.parse_authn_request_response(
                    saml_response_b64, saml2.BINDING_HTTP_POST, outstanding=outstanding
                )
            except Exception as exc:
                raise SamlRejected(f"{type(exc).__name__}: {exc}") from exc
            finally:
                self.client.allow_unsolicited = False
        if resp is None:
            raise SamlRejected("response did not verify")
        if not allow_unsolicited and resp.in_response_to != in_response_to:
            raise SamlRejected(f"InResponseTo {resp.in_response_to!r} != {in_response_to!r}")
        return resp.name_id.text
