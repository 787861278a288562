"""Bench inputs: a generated N-org mapping, a really signed SAML Response, OIDC/token requests.

Everything is generated into a scratch directory at run time; nothing here is checked-in data.
"""

from __future__ import annotations

import base64
import datetime as dt
import os
import random
import shutil
import string
import uuid
from urllib.parse import quote, urlencode

PUBLIC_HOST = "auth.yourapp.com"
ACS_PATH = "/login/callback"  # Auth0's SAML ACS
AUTHORIZE_PATH = "/authorize"
TOKEN_PATH = "/oauth/token"
TENANT = "yourapp"


# -- the mapping ----------------------------------------------------------------------------------
def org_key(i: int) -> str:
    return f"org{i}.example"


def entity_id(i: int) -> str:
    return f"http://www.okta.com/exk{i:010d}"


def connection(i: int) -> str:
    return f"org{i}-saml"


def client_id(i: int) -> str:
    return f"cli_{i:08d}m2mAbCdEf"


def mapping_toml(n_orgs: int, upstream: str, *, hosts: tuple[str, ...] = ()) -> str:
    """A valid mapping with ``n_orgs`` orgs, each with three domains, an entity id, an OIDC issuer,
    two connections and a client id; every other org migrated."""
    out = [
        "[router]",
        f'public_url = "https://{PUBLIC_HOST}"',
        f"hosts = {list(hosts)!r}".replace("'", '"'),
        'default_provider = "legacy"',
        'migration_target = "scalekit"',
        'force_header = "x-force-sk-route"',
        "correlation_ttl = 900",
        "debug_headers = false",
        "",
        "[providers.legacy]",
        'kind = "auth0"',
        f'upstream = "{upstream}"',
        'app_callback = "https://yourapp.com/auth/ext-provider/callback"',
        "",
        "[providers.scalekit]",
        'kind = "scalekit"',
        f'upstream = "{upstream}"',
        'app_callback = "https://yourapp.com/auth/scalekit/callback"',
        'paths = ["/keys"]',
        "",
    ]
    for i in range(n_orgs):
        k = org_key(i)
        out += [
            f'[orgs."{k}"]',
            f"migrated = {'true' if i % 2 else 'false'}",
            f'domains = ["org{i}.example.net", "org{i}-corp.example", "mail.org{i}.example"]',
            f'idp_entity_ids = ["{entity_id(i)}"]',
            f'oidc_issuers = ["https://org{i}.okta.example"]',
            f'connections = ["{connection(i)}", "conn_{i:012d}"]',
            f'client_ids = ["{client_id(i)}"]',
            "",
        ]
    return "\n".join(out)


# -- OIDC and token requests ----------------------------------------------------------------------
def _rand(rng: random.Random, n: int) -> str:
    return "".join(rng.choice(string.ascii_letters + string.digits + "-_") for _ in range(n))


def authorize_query(org: int, rng: random.Random) -> str:
    """~400-byte authorization request query, as an SPA with PKCE sends it."""
    q = urlencode(
        {
            "response_type": "code",
            "client_id": "AbCdEfGhIjKlMnOpQrStUvWxYz012345",
            "redirect_uri": "https://app.yourapp.com/auth/callback",
            "scope": "openid profile email offline_access",
            "state": _rand(rng, 43),
            "nonce": _rand(rng, 43),
            "login_hint": f"jane.doe{org}@org{org}.example",
            "code_challenge": _rand(rng, 43),
            "code_challenge_method": "S256",
            "response_mode": "query",
            "prompt": "login",
        },
        quote_via=quote,
    )
    return q


def token_body(rng: random.Random) -> bytes:
    return urlencode(
        {
            "grant_type": "authorization_code",
            "code": _rand(rng, 40),
            "redirect_uri": "https://app.yourapp.com/auth/callback",
        },
        quote_via=quote,
    ).encode()


def basic_auth(org: int) -> str:
    return "Basic " + base64.b64encode(f"{client_id(org)}:{_rand(random.Random(org), 48)}".encode()).decode()


BROWSER_HEADERS = {
    "user-agent": "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36",
    "accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
    "accept-language": "en-US,en;q=0.9",
}


# -- a signed SAML Response -----------------------------------------------------------------------
def _keypair(workdir: str) -> tuple[str, str]:
    """RSA-2048 key and self-signed cert (PEM files), made once per workdir."""
    key_path, cert_path = os.path.join(workdir, "idp.key"), os.path.join(workdir, "idp.crt")
    if os.path.exists(key_path):
        return key_path, cert_path
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "bench-idp.okta.example")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=3650))
        .sign(key, hashes.SHA256())
    )
    with open(key_path, "wb") as f:
        f.write(
            key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )
    with open(cert_path, "wb") as f:
        f.write(cert.public_bytes(serialization.Encoding.PEM))
    return key_path, cert_path


def _sig_template(ref_id: str, cert_b64: str) -> str:
    return (
        '<ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:SignedInfo>'
        '<ds:CanonicalizationMethod Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/>'
        '<ds:SignatureMethod Algorithm="http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"/>'
        f'<ds:Reference URI="#{ref_id}"><ds:Transforms>'
        '<ds:Transform Algorithm="http://www.w3.org/2000/09/xmldsig#enveloped-signature"/>'
        '<ds:Transform Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/></ds:Transforms>'
        '<ds:DigestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"/><ds:DigestValue/>'
        "</ds:Reference></ds:SignedInfo><ds:SignatureValue/>"
        f"<ds:KeyInfo><ds:X509Data><ds:X509Certificate>{cert_b64}</ds:X509Certificate></ds:X509Data>"
        "</ds:KeyInfo></ds:Signature>"
    )


def signed_saml_response(org: int, workdir: str, *, n_groups: int = 40) -> bytes:
    """An Okta-shaped SAML 2.0 Response, Response and Assertion both signed (RSA-SHA256) with
    xmlsec1 through pysaml2's signing backend; the Assertion carries a realistic attribute set."""
    from saml2.sigver import CryptoBackendXmlSec1

    key_path, cert_path = _keypair(workdir)
    with open(cert_path) as f:
        cert_b64 = "".join(ln for ln in f.read().splitlines() if not ln.startswith("-----"))
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    ts = lambda d=0: (now + dt.timedelta(minutes=d)).strftime("%Y-%m-%dT%H:%M:%SZ")  # noqa: E731
    rid, aid = "id" + uuid.uuid4().hex, "id" + uuid.uuid4().hex
    req_id = "_" + uuid.uuid4().hex
    email = f"jane.doe{org}@org{org}.example"
    issuer = entity_id(org)
    dest = f"https://{PUBLIC_HOST}{ACS_PATH}?connection={connection(org)}"
    audience = f"urn:auth0:{TENANT}:{connection(org)}"

    def attr(name: str, *values: str) -> str:
        vals = "".join(
            f'<saml2:AttributeValue xmlns:xs="http://www.w3.org/2001/XMLSchema" '
            f'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:type="xs:string">{v}'
            "</saml2:AttributeValue>"
            for v in values
        )
        return (
            f'<saml2:Attribute Name="{name}" NameFormat="urn:oasis:names:tc:SAML:2.0:attrname-format:'
            f'unspecified">{vals}</saml2:Attribute>'
        )

    attrs = "".join(
        [
            attr("email", email),
            attr("firstName", "Jane"),
            attr("lastName", f"Doe{org}"),
            attr("displayName", f"Jane Doe {org}"),
            attr("department", "Platform Engineering"),
            attr("employeeNumber", f"{100000 + org}"),
            attr("title", "Staff Engineer"),
            attr("groups", *(f"org{org}-team-{g:03d}-{'eng' if g % 3 else 'ops'}" for g in range(n_groups))),
        ]
    )
    assertion = (
        f'<saml2:Assertion xmlns:saml2="urn:oasis:names:tc:SAML:2.0:assertion" ID="{aid}" '
        f'IssueInstant="{ts()}" Version="2.0">'
        f'<saml2:Issuer Format="urn:oasis:names:tc:SAML:2.0:nameid-format:entity">{issuer}</saml2:Issuer>'
        f"{_sig_template(aid, cert_b64)}"
        '<saml2:Subject><saml2:NameID Format="urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress">'
        f"{email}</saml2:NameID>"
        '<saml2:SubjectConfirmation Method="urn:oasis:names:tc:SAML:2.0:cm:bearer">'
        f'<saml2:SubjectConfirmationData InResponseTo="{req_id}" NotOnOrAfter="{ts(5)}" Recipient="{dest}"/>'
        "</saml2:SubjectConfirmation></saml2:Subject>"
        f'<saml2:Conditions NotBefore="{ts(-5)}" NotOnOrAfter="{ts(5)}"><saml2:AudienceRestriction>'
        f"<saml2:Audience>{audience}</saml2:Audience></saml2:AudienceRestriction></saml2:Conditions>"
        f'<saml2:AuthnStatement AuthnInstant="{ts()}" SessionIndex="{req_id}"><saml2:AuthnContext>'
        "<saml2:AuthnContextClassRef>urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport"
        "</saml2:AuthnContextClassRef></saml2:AuthnContext></saml2:AuthnStatement>"
        f"<saml2:AttributeStatement>{attrs}</saml2:AttributeStatement></saml2:Assertion>"
    )
    response = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        f'<saml2p:Response xmlns:saml2p="urn:oasis:names:tc:SAML:2.0:protocol" Destination="{dest}" '
        f'ID="{rid}" InResponseTo="{req_id}" IssueInstant="{ts()}" Version="2.0">'
        '<saml2:Issuer xmlns:saml2="urn:oasis:names:tc:SAML:2.0:assertion" '
        f'Format="urn:oasis:names:tc:SAML:2.0:nameid-format:entity">{issuer}</saml2:Issuer>'
        f"{_sig_template(rid, cert_b64)}"
        '<saml2p:Status><saml2p:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/>'
        f"</saml2p:Status>{assertion}</saml2p:Response>"
    )
    xmlsec = shutil.which("xmlsec1")
    if not xmlsec:
        raise SystemExit("xmlsec1 not found: apt-get install -y xmlsec1 (pysaml2 signs through it)")
    backend = CryptoBackendXmlSec1(xmlsec)
    signed = backend.sign_statement(response, "urn:oasis:names:tc:SAML:2.0:assertion:Assertion", key_path, aid)
    signed = backend.sign_statement(signed, "urn:oasis:names:tc:SAML:2.0:protocol:Response", key_path, rid)
    return signed.encode() if isinstance(signed, str) else signed


def saml_form(xml: bytes, relay_state: str) -> bytes:
    return urlencode({"SAMLResponse": base64.b64encode(xml).decode(), "RelayState": relay_state}).encode()


def saml_groups_for_size(org: int, workdir: str, target: int = 11_264) -> int:
    """How many group values make the signed Response's POST body about ``target`` bytes."""
    rs = _rand(random.Random(org), 40)
    lo, hi = 0, 200
    body = b""
    while lo < hi:  # the smallest group count reaching the target
        mid = (lo + hi) // 2
        body = saml_form(signed_saml_response(org, workdir, n_groups=mid), rs)
        if len(body) < target:
            lo = mid + 1
        else:
            hi = mid
    return lo


def saml_post_body(org: int, workdir: str, n_groups: int) -> bytes:
    return saml_form(signed_saml_response(org, workdir, n_groups=n_groups), _rand(random.Random(org), 40))


def verify_signature(xml: bytes, workdir: str) -> bool:
    """xmlsec1 --verify of the outer (Response) signature, to prove the fixture is really signed."""
    import subprocess
    import tempfile

    _, cert_path = _keypair(workdir)
    with tempfile.NamedTemporaryFile(suffix=".xml", dir=workdir, delete=False) as f:
        f.write(xml)
    r = subprocess.run(
        [
            shutil.which("xmlsec1") or "xmlsec1",
            "--verify",
            "--pubkey-cert-pem",
            cert_path,
            "--id-attr:ID",
            "urn:oasis:names:tc:SAML:2.0:protocol:Response",
            f.name,
        ],
        capture_output=True,
    )
    os.unlink(f.name)
    return r.returncode == 0
