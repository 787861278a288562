"""``import --from-api`` through the providers' own SDKs, against servers on 127.0.0.1:

- Auth0 (``auth0-python``): a local HTTPS server answering the Management API's documented
  responses — checkpoint pages of ``/connections`` and ``/organizations`` (``{…, next}``), offset
  pages of ``/organizations/{id}/enabled_connections``, ``/discovery-domains`` — in pages smaller
  than asked for, so every listing takes several pages; the token only from the environment.
- Cognito (``boto3``): moto's Cognito emulator in server mode, with more IdPs than one page holds.
"""

from __future__ import annotations

import datetime
import http.server
import ipaddress
import json
import pathlib
import ssl
import threading
import urllib.parse

import boto3
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from moto.server import ThreadedMotoServer

from routing.mapping_loader import load_mapping_file

from .conftest import run
from .test_import import COMMENTED

EXPORTS = pathlib.Path(__file__).resolve().parents[1] / "fixtures" / "exports"
TOKEN = "mgmt-api-token-for-the-test"
PAGE = 2  # the server's page size, whatever the SDK asks for


def tls_cert(directory: pathlib.Path) -> tuple[str, str]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=2))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = directory / "mgmt.crt", directory / "mgmt.key"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return str(cert_file), str(key_file)


def tenant() -> tuple[list[dict], list[dict], dict[str, list[dict]], dict[str, list[dict]]]:
    """The fixture tenant as the Management API holds it: connections, organizations, and per
    organization its enabled connections and discovery domains (answered on their own paths)."""
    conns: list[dict] = []
    for f in ("connections-page-0.json", "connections-page-1.json", "connections-checkpoint.json"):
        conns += json.loads((EXPORTS / "auth0" / f).read_text())["connections"]
    orgs, enabled, domains = [], {}, {}
    for o in json.loads((EXPORTS / "auth0" / "organizations.json").read_text()):
        ec_ = o.pop("enabled_connections", [])
        enabled[o["id"]] = ec_["enabled_connections"] if isinstance(ec_, dict) else ec_
        domains[o["id"]] = o.pop("discovery_domains", {}).get("domains", [])
        orgs.append(o)
    return conns, orgs, enabled, domains


class ManagementApi:
    def __init__(self, cert: str, key: str):
        conns, orgs, enabled, domains = tenant()
        self.requests: list[str] = []
        outer = self

        def checkpoint(items: list[dict], q: dict, key: str) -> dict:
            start = next((i for i, x in enumerate(items) if x["id"] == q.get("from")), 0) if q.get("from") else 0
            page = items[start : start + min(PAGE, int(q.get("take", 50)))]
            out = {key: page}
            if start + len(page) < len(items):
                out["next"] = items[start + len(page)]["id"]
            return out

        def offset(items: list[dict], q: dict, key: str) -> dict:
            per = min(PAGE, int(q.get("per_page", 50)))
            page_no = int(q.get("page", 0))
            return {
                key: items[page_no * per : (page_no + 1) * per],
                "start": page_no * per,
                "limit": per,
                "total": len(items),
            }

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self):
                u = urllib.parse.urlsplit(self.path)
                q = dict(urllib.parse.parse_qsl(u.query))
                outer.requests.append(self.path)
                parts = u.path.removeprefix("/api/v2/").split("/")
                if self.headers.get("authorization") != f"Bearer {TOKEN}":
                    return self.send(401, {"statusCode": 401, "error": "Unauthorized", "message": "Invalid token"})
                if parts == ["connections"]:
                    return self.send(200, checkpoint(conns, q, "connections"))
                if parts == ["organizations"]:
                    return self.send(200, checkpoint(orgs, q, "organizations"))
                if len(parts) == 3 and parts[0] == "organizations" and parts[2] == "enabled_connections":
                    return self.send(200, offset(enabled.get(parts[1], []), q, "enabled_connections"))
                if len(parts) == 3 and parts[0] == "organizations" and parts[2] == "discovery-domains":
                    if parts[1] not in domains or not domains[parts[1]]:
                        return self.send(404, {"statusCode": 404, "error": "Not Found", "message": "not enabled"})
                    return self.send(200, {"domains": domains[parts[1]]})
                return self.send(404, {"statusCode": 404, "error": "Not Found", "message": "no such path"})

            def send(self, status: int, body: dict) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json; charset=utf-8")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *a):
                pass

        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(cert, key)
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.socket = ctx.wrap_socket(self.httpd.socket, server_side=True)
        self.domain = f"127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)


@pytest.fixture
def mgmt_api(tmp_path):
    cert, key = tls_cert(tmp_path)
    api = ManagementApi(cert, key)
    try:
        yield api, cert
    finally:
        api.stop()


@pytest.fixture
def commented(tmp_path) -> pathlib.Path:
    p = tmp_path / "mapping.toml"
    p.write_text(COMMENTED)
    return p


def test_auth0_from_api_reads_every_page_and_matches_the_file_import(mgmt_api, commented, tmp_path):
    api, ca = mgmt_api
    env = {"AUTH0_DOMAIN": api.domain, "AUTH0_API_TOKEN": TOKEN, "SSL_CERT_FILE": ca}
    r = run("import", "auth0", "--from-api", "--mapping", commented, env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "auth0: read 9 connections, 4 organizations" in r.stdout
    conn_pages = [p for p in api.requests if p.startswith("/api/v2/connections")]
    assert len(conn_pages) == 5 and "from=" in conn_pages[-1]  # 9 connections, 2 a page
    assert len([p for p in api.requests if p.startswith("/api/v2/organizations?")]) == 2
    assert any("enabled_connections" in p and "page=1" in p for p in api.requests)  # acme enables 3
    assert TOKEN not in r.stdout + r.stderr
    via_api = commented.read_text()

    files = tmp_path / "from-files.toml"
    files.write_text(COMMENTED)
    r2 = run("import", "auth0", *sorted(str(p) for p in (EXPORTS / "auth0").glob("*.json")), "--mapping", files)
    assert r2.returncode == 0, r2.stderr
    assert load_mapping_file(str(commented)).orgs == load_mapping_file(str(files)).orgs
    assert via_api.count("[orgs.") == files.read_text().count("[orgs.")


def test_auth0_from_api_refused_token_is_a_finding_and_not_printed(mgmt_api, commented):
    api, ca = mgmt_api
    r = run(
        "import",
        "auth0",
        "--from-api",
        "--mapping",
        commented,
        env={"AUTH0_DOMAIN": api.domain, "AUTH0_API_TOKEN": "wrong-token", "SSL_CERT_FILE": ca},
    )
    assert r.returncode == 1
    assert "Auth0 Management API answered 401: Invalid token" in r.stderr
    assert "wrong-token" not in r.stdout + r.stderr
    assert commented.read_text() == COMMENTED
    missing = run("import", "auth0", "--from-api", "--mapping", commented, env={"AUTH0_DOMAIN": api.domain})
    assert missing.returncode == 1 and "AUTH0_API_TOKEN" in missing.stderr


@pytest.fixture
def moto_cognito():
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        yield f"http://{host}:{port}"
    finally:
        server.stop()


AWS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"}


def test_cognito_from_api_through_boto3_against_moto(moto_cognito, commented, monkeypatch):
    for k, v in AWS.items():
        monkeypatch.setenv(k, v)
    idp = boto3.client("cognito-idp", endpoint_url=moto_cognito, region_name="us-east-1")
    pool = idp.create_user_pool(PoolName="customers")["UserPool"]["Id"]
    for f in ("idp-AcmeOkta.json", "idp-GlobexOIDC.json", "idp-Initech.json", "idp-Google.json"):
        p = json.loads((EXPORTS / "cognito" / f).read_text())["IdentityProvider"]
        idp.create_identity_provider(
            UserPoolId=pool,
            ProviderName=p["ProviderName"],
            ProviderType=p["ProviderType"],
            ProviderDetails=p["ProviderDetails"],
            AttributeMapping=p["AttributeMapping"],
            IdpIdentifiers=p["IdpIdentifiers"],
        )
    for n in range(61):  # more than one ListIdentityProviders page (60)
        idp.create_identity_provider(
            UserPoolId=pool,
            ProviderName=f"Tenant{n:02d}",
            ProviderType="OIDC",
            ProviderDetails={
                "client_id": "c",
                "client_secret": "PLACEHOLDER-not-a-secret",
                "oidc_issuer": f"https://tenant{n:02d}.example/",
                "authorize_scopes": "openid",
            },
            IdpIdentifiers=[f"tenant{n:02d}.example"],
        )
    r = run(
        "import",
        "cognito",
        "--from-api",
        "--user-pool-id",
        pool,
        "--mapping",
        commented,
        env={**AWS, "AWS_ENDPOINT_URL": moto_cognito},
    )
    assert r.returncode == 0, r.stdout + r.stderr
    assert "cognito: read 65 identity providers" in r.stdout
    m = load_mapping_file(str(commented))
    assert m.orgs["acme.com"].idp_entity_ids == ("http://www.okta.com/exkAcmeCognito",)
    assert m.orgs["acme.com"].connections == ("acme-saml", "AcmeOkta", "acme-okta")  # hand-written one first
    assert m.orgs["globex.com"].oidc_issuers == ("https://globex.okta.com",)
    assert m.orgs["tenant60.example"].oidc_issuers == ("https://tenant60.example/",)  # from the second page
    assert 'NOT WRITTEN, no email domain: identity provider "Initech"' in r.stdout
    assert 'left out: identity provider "Google" (Google)' in r.stdout
    assert "PLACEHOLDER-not-a-secret" not in r.stdout + r.stderr + commented.read_text()

    gone = run(
        "import",
        "cognito",
        "--from-api",
        "--user-pool-id",
        "us-east-1_nope",
        "--mapping",
        commented,
        env={**AWS, "AWS_ENDPOINT_URL": moto_cognito},
    )
    assert gone.returncode == 1 and "Cognito answered ResourceNotFoundException" in gone.stderr
