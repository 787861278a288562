"""SAML 2.0 for the demo's IdPs and providers: AuthnRequests in the HTTP-Redirect binding, Responses
signed with signxml (RSA-SHA256, exclusive c14n, the whole Response signed) and checked the way an
SP checks them: the pinned IdP certificate, then only what the signature covers.

Incoming XML goes through the router's hardened parser (``routing.extract.xml``) first.
"""

from __future__ import annotations

import base64
import binascii
import datetime
import secrets
import threading
import urllib.parse
import zlib
from dataclasses import dataclass

from lxml import etree

from ..errors import ExtractError
from ..extract.xml import parse_xml

P = "urn:oasis:names:tc:SAML:2.0:protocol"
A = "urn:oasis:names:tc:SAML:2.0:assertion"
DS = "http://www.w3.org/2000/09/xmldsig#"
SUCCESS = "urn:oasis:names:tc:SAML:2.0:status:Success"
EMAIL = "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress"
POST_BINDING = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST"
EXC_C14N = "http://www.w3.org/2001/10/xml-exc-c14n#"
MAX_XML = 256 * 1024
LIFETIME = datetime.timedelta(minutes=5)
SKEW = datetime.timedelta(minutes=2)
_PARSE = threading.Lock()  # the hardened parser is reusable, not thread-safe; the demo's servers are threaded


class SamlError(Exception):
    """A SAML message that is unreadable or fails a check; the message says which."""


@dataclass(frozen=True)
class AuthnRequest:
    id: str
    issuer: str  # the SP's entity id
    acs_url: str  # AssertionConsumerServiceURL
    destination: str  # the IdP's SSO URL


@dataclass(frozen=True)
class Assertion:
    """What an IdP asserts in one Response, and what an SP reads back from a verified one."""

    issuer: str  # the IdP's entity id
    in_response_to: str | None
    destination: str  # the ACS URL it is posted to
    audience: str  # the SP's entity id
    name_id: str  # the user's email


def new_id() -> str:
    return "_" + secrets.token_hex(16)


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC).replace(microsecond=0)


def _instant(t: datetime.datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse_instant(value: str | None) -> datetime.datetime:
    try:
        return datetime.datetime.strptime(value or "", "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=datetime.UTC)
    except ValueError as e:
        raise SamlError(f"bad time {value!r}") from e


def _parse(data: bytes, kind: str) -> etree._Element:
    with _PARSE:
        try:
            return parse_xml(data, max_size=MAX_XML, kind=kind)
        except ExtractError as e:
            raise SamlError(f"{kind}: {e}") from e


# -- AuthnRequest (SP -> IdP, HTTP-Redirect binding) ----------------------------------------------
def authn_request_xml(req: AuthnRequest) -> bytes:
    el = etree.Element(
        f"{{{P}}}AuthnRequest",
        nsmap={"samlp": P, "saml": A},
        ID=req.id,
        Version="2.0",
        IssueInstant=_instant(_now()),
        Destination=req.destination,
        AssertionConsumerServiceURL=req.acs_url,
        ProtocolBinding=POST_BINDING,
    )
    etree.SubElement(el, f"{{{A}}}Issuer").text = req.issuer
    etree.SubElement(el, f"{{{P}}}NameIDPolicy", Format=EMAIL, AllowCreate="true")
    return etree.tostring(el)


def redirect_url(req: AuthnRequest, relay_state: str, **extra: str) -> str:
    """The IdP's SSO URL carrying the deflated, base64 AuthnRequest and the RelayState."""
    deflate = zlib.compressobj(9, zlib.DEFLATED, -15)
    raw = deflate.compress(authn_request_xml(req)) + deflate.flush()
    query = {"SAMLRequest": base64.b64encode(raw).decode(), "RelayState": relay_state, **extra}
    return f"{req.destination}?{urllib.parse.urlencode(query)}"


def read_authn_request(saml_request: str) -> AuthnRequest:
    try:
        raw = base64.b64decode(saml_request, validate=False)
        inflate = zlib.decompressobj(-15)
        xml = inflate.decompress(raw, MAX_XML)
    except (binascii.Error, ValueError, zlib.error) as e:
        raise SamlError(f"SAMLRequest is not deflated base64: {e}") from e
    if inflate.unconsumed_tail:
        raise SamlError("SAMLRequest inflates past the limit")
    root = _parse(xml, "AuthnRequest")
    if root.tag != f"{{{P}}}AuthnRequest":
        raise SamlError(f"not an AuthnRequest: {etree.QName(root).localname}")
    issuer = root.findtext(f"{{{A}}}Issuer")
    fields = (root.get("ID"), issuer, root.get("AssertionConsumerServiceURL"), root.get("Destination"))
    if not all(fields):
        raise SamlError("AuthnRequest lacks its ID, Issuer, AssertionConsumerServiceURL or Destination")
    return AuthnRequest(*(f.strip() for f in fields))


# -- Response (IdP -> SP, HTTP-POST binding) ------------------------------------------------------
def _response_xml(a: Assertion, now: datetime.datetime) -> etree._Element:
    resp = etree.Element(
        f"{{{P}}}Response",
        nsmap={"samlp": P, "saml": A},
        ID=new_id(),
        Version="2.0",
        IssueInstant=_instant(now),
        Destination=a.destination,
    )
    if a.in_response_to:
        resp.set("InResponseTo", a.in_response_to)
    etree.SubElement(resp, f"{{{A}}}Issuer").text = a.issuer
    etree.SubElement(resp, f"{{{DS}}}Signature", nsmap={"ds": DS}, Id="placeholder")  # signxml fills it in
    status = etree.SubElement(resp, f"{{{P}}}Status")
    etree.SubElement(status, f"{{{P}}}StatusCode", Value=SUCCESS)
    assertion = etree.SubElement(resp, f"{{{A}}}Assertion", ID=new_id(), Version="2.0", IssueInstant=_instant(now))
    etree.SubElement(assertion, f"{{{A}}}Issuer").text = a.issuer
    subject = etree.SubElement(assertion, f"{{{A}}}Subject")
    etree.SubElement(subject, f"{{{A}}}NameID", Format=EMAIL).text = a.name_id
    confirmation = etree.SubElement(
        subject, f"{{{A}}}SubjectConfirmation", Method="urn:oasis:names:tc:SAML:2.0:cm:bearer"
    )
    data = etree.SubElement(
        confirmation, f"{{{A}}}SubjectConfirmationData", Recipient=a.destination, NotOnOrAfter=_instant(now + LIFETIME)
    )
    if a.in_response_to:
        data.set("InResponseTo", a.in_response_to)
    conditions = etree.SubElement(
        assertion, f"{{{A}}}Conditions", NotBefore=_instant(now - SKEW), NotOnOrAfter=_instant(now + LIFETIME)
    )
    restriction = etree.SubElement(conditions, f"{{{A}}}AudienceRestriction")
    etree.SubElement(restriction, f"{{{A}}}Audience").text = a.audience
    etree.SubElement(assertion, f"{{{A}}}AuthnStatement", AuthnInstant=_instant(now))
    return resp


def signed_response(a: Assertion, key_pem: bytes, cert_pem: bytes) -> str:
    """The base64 SAMLResponse an IdP posts: the whole Response signed (enveloped)."""
    from signxml import SignatureMethod, XMLSigner  # type: ignore[attr-defined]  # the demo extra; signxml has no __all__

    signer = XMLSigner(signature_algorithm=SignatureMethod.RSA_SHA256, c14n_algorithm=EXC_C14N)
    signed = signer.sign(_response_xml(a, _now()), key=key_pem, cert=cert_pem.decode())
    return base64.b64encode(etree.tostring(signed)).decode()


def _decode(saml_response: str) -> bytes:
    try:
        return base64.b64decode(saml_response, validate=False)
    except (binascii.Error, ValueError) as e:
        raise SamlError(f"SAMLResponse is not base64: {e}") from e


def unverified_in_response_to(saml_response: str) -> str | None:
    """The InResponseTo a posted Response claims, to find the login it answers before verifying it."""
    root = _parse(_decode(saml_response), "SAMLResponse")
    if root.tag != f"{{{P}}}Response":
        raise SamlError(f"not a Response: {etree.QName(root).localname}")
    return root.get("InResponseTo")


def verify_response(saml_response: str, idp_cert_pem: bytes) -> Assertion:
    """The Assertion of a posted SAMLResponse signed by the pinned certificate, or SamlError.

    Reads only the signed XML signxml hands back ("see what is signed"); the caller checks
    InResponseTo, Destination and Audience against what it expects."""
    from signxml import XMLVerifier  # type: ignore[attr-defined]  # signxml has no __all__
    from signxml.exceptions import SignXMLException

    xml = _decode(saml_response)
    _parse(xml, "SAMLResponse")  # the hardened parser's verdict before signxml's own parse
    try:
        result = XMLVerifier().verify(xml, x509_cert=idp_cert_pem.decode())
    except SignXMLException as e:
        raise SamlError(f"signature: {e}") from e
    signed = None if isinstance(result, list) else result.signed_xml  # a list only if expect_references > 1
    if signed is None or signed.tag != f"{{{P}}}Response":
        raise SamlError("the signature does not cover the Response")
    return _read_signed(signed)


def _read_signed(resp: etree._Element) -> Assertion:
    code = resp.find(f"{{{P}}}Status/{{{P}}}StatusCode")
    if code is None or code.get("Value") != SUCCESS:
        raise SamlError("status is not Success")
    assertions = resp.findall(f"{{{A}}}Assertion")
    if len(assertions) != 1:
        raise SamlError(f"{len(assertions)} assertions, expected 1")
    assertion = assertions[0]
    conditions = assertion.find(f"{{{A}}}Conditions")
    if conditions is None:
        raise SamlError("no Conditions")
    now = _now()
    if not _parse_instant(conditions.get("NotBefore")) - SKEW <= now < _parse_instant(conditions.get("NotOnOrAfter")):
        raise SamlError("assertion expired or not yet valid")
    name_id = assertion.findtext(f"{{{A}}}Subject/{{{A}}}NameID")
    audience = conditions.findtext(f"{{{A}}}AudienceRestriction/{{{A}}}Audience")
    issuer = resp.findtext(f"{{{A}}}Issuer")
    if not (name_id and audience and issuer) or assertion.findtext(f"{{{A}}}Issuer") != issuer:
        raise SamlError("NameID, Audience or Issuer missing, or the Assertion's Issuer differs")
    return Assertion(
        issuer.strip(), resp.get("InResponseTo"), resp.get("Destination") or "", audience.strip(), name_id.strip()
    )
