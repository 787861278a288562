"""``sso-router import`` through the console script: the merge into a commented, hand-written
mapping (comments, order and hand-written orgs kept; ``migrated`` untouched; re-import a no-op;
conflicts reported, exit 1), ``--dry-run``, ``--key``, ``--fetch-metadata``, usage errors."""

from __future__ import annotations

import http.server
import json
import pathlib
import threading

import pytest

from routing.mapping_loader import load_mapping_file

from .conftest import run

EXPORTS = pathlib.Path(__file__).resolve().parents[1] / "fixtures" / "exports"
AUTH0 = sorted(str(p) for p in (EXPORTS / "auth0").glob("*.json"))

COMMENTED = """\
# Our production mapping. Keep this header.

[router]
public_url = "https://auth.yourapp.com"   # what browsers see
default_provider = "legacy"
migration_target = "scalekit"

[providers.legacy]
kind = "auth0"
upstream = "https://yourapp.us.auth0.com"

[providers.scalekit]
kind = "scalekit"
upstream = "https://yourapp.scalekit.com"

# --- orgs typed in by hand -------------------------------------------------

[orgs."acme.com"]   # moved last week
migrated = true     # do not touch
connections = [
    "acme-saml",    # from the dashboard
]

[orgs."handmade.com"]
# not at Auth0 at all
idp_entity_ids = ["https://idp.handmade.example/"]
"""


@pytest.fixture
def commented(tmp_path) -> pathlib.Path:
    p = tmp_path / "mapping.toml"
    p.write_text(COMMENTED)
    return p


def is_subsequence(small: list[str], big: list[str]) -> bool:
    it = iter(big)
    return all(line in it for line in small)


def test_import_merges_into_a_commented_mapping_and_a_second_run_changes_nothing(commented):
    r = run("import", "auth0", *AUTH0, "--mapping", commented)
    assert r.returncode == 0, r.stdout + r.stderr
    after = commented.read_text()
    # every line of the original is still there, in its order: comments, layout, hand-written orgs
    assert is_subsequence(COMMENTED.splitlines(), after.splitlines()), after
    m = load_mapping_file(str(commented))
    acme = m.orgs["acme.com"]
    assert acme.migrated is True  # an existing org's migrated is never changed
    assert acme.connections == ("acme-saml", "con_AcMeSaml0000001", "acme-okta", "con_AcMeOkTa0000001")
    assert acme.domains == ("acme.io",) and acme.org_ids == ("org_AcMe0000000001", "acme")
    assert m.orgs["handmade.com"].idp_entity_ids == ("https://idp.handmade.example/",)
    for new in ("globex.com", "hooli.com", "initech.com", "piedpiper.com"):
        assert m.orgs[new].migrated is False, new
    assert '# imported from auth0: connection "piedpiper-saml" (samlp)' in after
    assert "umbrella" not in after  # no email domain: listed, not written
    assert 'NOT WRITTEN, no email domain: organization "umbrella"' in r.stdout
    assert "--key org_UmBrElLa000001=DOMAIN" in r.stdout
    assert "PLACEHOLDER-not-a-secret" not in r.stdout + r.stderr + after

    again = run("import", "auth0", *AUTH0, "--mapping", commented)
    assert again.returncode == 0, again.stderr
    assert commented.read_text() == after
    assert "0 new orgs, 0 identifiers" in again.stdout and "file not changed" in again.stdout


def test_conflicts_are_reported_not_written_and_exit_1(commented):
    # a hand-typed entity id in another org, and a connection the export gives to piedpiper.com
    commented.write_text(
        COMMENTED + '\n[orgs."megasoft.com"]\nidp_entity_ids = ["http://www.okta.com/exkPiedPiper"]\n'
        'connections = ["con_HoOlI000000001"]\n'
    )
    r = run("import", "auth0", *AUTH0, "--mapping", commented)
    assert r.returncode == 1
    assert (
        "CONFLICT, not written: idp_entity_ids 'http://www.okta.com/exkPiedPiper': org 'megasoft.com' in the "
        "mapping claims it"
    ) in r.stdout
    m = load_mapping_file(str(commented))
    assert m.orgs["piedpiper.com"].idp_entity_ids == ()  # the rest of the org is written
    assert m.orgs["piedpiper.com"].connections == ("piedpiper-saml", "con_PiEdPiPeR000001")
    # con_HoOlI names megasoft.com: the draft is about that org, hooli.com joins it as a domain
    assert m.orgs["megasoft.com"].domains == ("hooli.com",)
    assert m.orgs["megasoft.com"].idp_entity_ids == ("http://www.okta.com/exkPiedPiper",)
    before = commented.read_bytes()
    again = run("import", "auth0", *AUTH0, "--mapping", commented)
    assert again.returncode == 1 and commented.read_bytes() == before


def test_dry_run_prints_the_diff_and_writes_nothing(commented):
    r = run("import", "auth0", *AUTH0, "--mapping", commented, "--dry-run")
    assert r.returncode == 0, r.stderr
    assert commented.read_text() == COMMENTED
    assert f"--- {commented}" in r.stdout and '+[orgs."piedpiper.com"]' in r.stdout
    assert '+    "con_AcMeSaml0000001",' in r.stdout or '"con_AcMeSaml0000001"' in r.stdout
    assert "dry run: nothing written" in r.stdout


def test_key_writes_an_org_the_export_named_no_domain_for(commented):
    r = run("import", "auth0", *AUTH0, "--mapping", commented, "--key", "umbrella-oidc=Umbrella.example")
    assert r.returncode == 0, r.stderr
    org = load_mapping_file(str(commented)).orgs["umbrella.example"]
    assert org.oidc_issuers == ("https://login.umbrella.example/oauth2",)
    assert org.org_ids == ("org_UmBrElLa000001", "umbrella")
    unused = run("import", "auth0", *AUTH0, "--mapping", commented, "--key", "nobody=nobody.com")
    assert unused.returncode == 1 and "--key nobody: nothing in the input is named 'nobody'" in unused.stdout


@pytest.mark.parametrize(
    "args, msg",
    [
        (("import", "auth0"), "name the FILEs"),
        (("import", "auth0", "x.json", "--key", "acme-saml"), "want NAME=DOMAIN"),
        (("import", "auth0", "x.json", "--key", "acme-saml=https://acme.com"), "want NAME=DOMAIN"),
        (("import", "workos", "--from-api"), "--from-api reads auth0 and cognito"),
        (("import", "cognito", "--from-api"), "needs --user-pool-id"),
        (("import", "okta", "x.json"), "invalid choice"),
    ],
)
def test_usage_errors_exit_2(commented, args, msg):
    r = run(*args, "--mapping", commented)
    assert r.returncode == 2 and msg in r.stderr, r.stderr
    assert commented.read_text() == COMMENTED


def test_unreadable_or_wrong_files_exit_1(commented, tmp_path):
    (tmp_path / "users.json").write_text('{"users": []}')
    (tmp_path / "broken.json").write_text('{"connections": [')
    for f, msg in (
        ("users.json", "not an Auth0 Management API"),
        ("broken.json", "not JSON"),
        ("missing.json", "No such file"),
    ):
        r = run("import", "auth0", tmp_path / f, "--mapping", commented)
        assert r.returncode == 1 and msg in r.stderr, r.stderr
    assert commented.read_text() == COMMENTED


class MetadataServer:
    def __init__(self, body: bytes):
        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                self.server.hits += 1
                self.send_response(200)
                self.send_header("content-type", "application/samlmetadata+xml")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *a):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.hits = 0
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/federationmetadata.xml"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def test_metadata_url_is_fetched_only_with_fetch_metadata(commented, tmp_path):
    okta = json.loads((EXPORTS / "cognito" / "idp-AcmeOkta.json").read_text())
    body = okta["IdentityProvider"]["ProviderDetails"]["MetadataFile"].replace("exkAcmeCognito", "exkEntraViaUrl")
    srv = MetadataServer(body.encode())
    try:
        entra = json.loads((EXPORTS / "cognito" / "idp-AcmeEntra.json").read_text())
        entra["IdentityProvider"]["ProviderDetails"]["MetadataURL"] = srv.url
        f = tmp_path / "idp-AcmeEntra.json"
        f.write_text(json.dumps(entra))
        r = run("import", "cognito", f, "--mapping", commented, "--dry-run")
        assert r.returncode == 0 and srv.httpd.hits == 0
        assert f"IdP metadata only at {srv.url}: not fetched (--fetch-metadata" in r.stdout
        r = run("import", "cognito", f, "--mapping", commented, "--fetch-metadata")
        assert r.returncode == 0, r.stderr
        assert srv.httpd.hits == 1
        assert load_mapping_file(str(commented)).orgs["acme.com"].idp_entity_ids == (
            "http://www.okta.com/exkEntraViaUrl",
        )
    finally:
        srv.stop()
