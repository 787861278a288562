"""A real ``mitmweb`` with the router addon: the decision shows as the flow's comment, the flow list
gets the ``comment`` column unless the user chose ``web_columns``, each flow is marked by the provider
that got it, and SAML flows render with the SAML contentview. (The same in a real browser:
``test_mitmweb_browser.py``.)

Self-contained: two tiny upstreams and mitmweb, all on 127.0.0.1, stopped when the module ends. mitmweb
12 protects its API with a token: ``--set web_password=...`` plus ``Authorization: Bearer ...``
(``mitmproxy/tools/web/app.py``, ``AuthRequestHandler``).
"""

from __future__ import annotations

import base64
import os
import pathlib
import secrets
import signal
import subprocess
import sys
import threading
import time
import urllib.parse
import zlib
from collections.abc import Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests

from .proxy import ADDON
from .world import free_port

MITMWEB = pathlib.Path(sys.executable).with_name("mitmweb")
SAMLP = "urn:oasis:names:tc:SAML:2.0:protocol"
SAML = "urn:oasis:names:tc:SAML:2.0:assertion"
NEWCO_IDP = "https://sts.windows.net/newco/"
SP_ISSUER = "https://auth.yourapp.com/sso/v1/saml/conn_01HNEWCO"


class Upstream:
    """A provider stand-in: answers every request with 200 and its own name."""

    def __init__(self, name: str) -> None:
        body = f"{name}\n".encode()

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                n = int(self.headers.get("content-length") or 0)
                if n:
                    self.rfile.read(min(n, 1 << 20))
                self.send_response(200)
                self.send_header("content-type", "text/plain")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = _answer

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


def mapping(public_url: str, legacy: str, scalekit: str) -> str:
    return f'''
[router]
public_url = "{public_url}"
default_provider = "legacy"
migration_target = "scalekit"

[providers.legacy]
kind = "auth0"
upstream = "{legacy}"

[providers.scalekit]
kind = "scalekit"
upstream = "{scalekit}"

[orgs."megasoft.com"]
migrated = false
idp_entity_ids = ["http://www.okta.com/exk1megasoft"]

[orgs."newcompany.com"]
migrated = true
idp_entity_ids = ["{NEWCO_IDP}"]
'''


class Mitmweb:
    def __init__(
        self,
        workdir: pathlib.Path,
        mapping_path: pathlib.Path,
        *,
        port: int | None = None,
        extra_args: Sequence[str] = (),
    ) -> None:
        self.port, self.web_port = port or free_port(), free_port()
        self.extra_args = list(extra_args)
        self.password = secrets.token_hex(16)
        self.workdir = workdir
        self.mapping_path = mapping_path
        self.log_path = workdir / "mitmweb.log"
        self.proc: subprocess.Popen | None = None
        self.http = requests.Session()
        self.http.trust_env = False  # never through an environment proxy: 127.0.0.1 only
        self.api = requests.Session()
        self.api.trust_env = False
        self.api.headers["Authorization"] = f"Bearer {self.password}"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def web(self) -> str:
        return f"http://127.0.0.1:{self.web_port}"

    def start(self, timeout: float = 40.0) -> Mitmweb:
        cmd = [
            str(MITMWEB),
            "--mode",
            "reverse:https://legacy.invalid",
            "-s",
            str(ADDON),
            "--set",
            f"sso_mapping={self.mapping_path}",
            "--set",
            "sso_secret=x",
            "--set",
            f"web_password={self.password}",
            "--no-web-open-browser",
            "--web-host",
            "127.0.0.1",
            "--web-port",
            str(self.web_port),
            "--listen-host",
            "127.0.0.1",
            "-p",
            str(self.port),
            *self.extra_args,
        ]
        env = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}
        env.pop("SSO_ROUTER_SECRET", None)
        self._log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            cmd, stdout=self._log, stderr=subprocess.STDOUT, cwd=self.workdir, env=env, start_new_session=True
        )
        deadline = time.monotonic() + timeout
        ready = web = False
        while time.monotonic() < deadline and not (ready and web):
            if self.proc.poll() is not None:
                raise RuntimeError(f"mitmweb exited with {self.proc.returncode}:\n{self.output()}")
            try:
                ready = ready or self.http.get(f"{self.url}/.sso-router/ready", timeout=1).status_code == 200
                web = web or self.api.get(f"{self.web}/flows", timeout=1).status_code == 200
            except requests.RequestException:
                pass
            time.sleep(0.1)
        if not (ready and web):
            self.stop()
            raise RuntimeError(f"mitmweb not ready within {timeout}s (proxy {ready}, web {web}):\n{self.output()}")
        return self

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)  # its own session (start_new_session): only mitmweb
            try:
                self.proc.wait(timeout=8)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=5)
        self.proc = None
        if getattr(self, "_log", None) is not None and not self._log.closed:
            self._log.close()
        self.http.close()
        self.api.close()

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")[-6000:] if self.log_path.exists() else ""

    def flow_for(self, method: str, path_prefix: str, timeout: float = 10.0) -> dict:
        """The newest flow in mitmweb's list for ``method path…`` that has a response."""
        deadline = time.monotonic() + timeout
        flows: list = []
        while time.monotonic() < deadline:
            flows = self.api.get(f"{self.web}/flows", timeout=5).json()
            found = [
                f
                for f in flows
                if f.get("type") == "http"
                and f["request"]["method"] == method
                and f["request"]["path"].startswith(path_prefix)
                and f.get("response")
            ]
            if found:
                return found[-1]
            time.sleep(0.1)
        raise AssertionError(
            f"no {method} {path_prefix} flow in mitmweb within {timeout}s: "
            f"{[(f['request']['method'], f['request']['path']) for f in flows]}\n{self.output()}"
        )

    def content_view(self, flow_id: str, message: str = "request", view: str = "auto") -> dict:
        r = self.api.get(f"{self.web}/flows/{flow_id}/{message}/content/{view}.json", timeout=5)
        assert r.status_code == 200, r.text
        return r.json()

    def views_registered(self) -> bool:
        views = {v.lower() for v in self.api.get(f"{self.web}/state", timeout=5).json().get("contentViews", [])}
        return {"saml", "jwt"} <= views

    def option(self, name: str):
        return self.api.get(f"{self.web}/options", timeout=5).json()[name]["value"]


@pytest.fixture(scope="module")
def mitmweb(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("mitmweb")
    legacy, scalekit = Upstream("legacy"), Upstream("scalekit")
    web = None
    try:
        mapping_path = workdir / "mapping.toml"
        web = Mitmweb(workdir, mapping_path)
        mapping_path.write_text(mapping(web.url, legacy.url, scalekit.url))
        yield web.start()
    finally:
        if web is not None:
            web.stop()
        legacy.stop()
        scalekit.stop()


def authn_request() -> str:
    xml = (
        f'<samlp:AuthnRequest xmlns:samlp="{SAMLP}" xmlns:saml="{SAML}" ID="_e2e-req" Version="2.0" '
        f'Destination="https://login.microsoftonline.com/newco/saml2"><saml:Issuer>{SP_ISSUER}</saml:Issuer>'
        "</samlp:AuthnRequest>"
    ).encode()
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    return base64.b64encode(c.compress(xml) + c.flush()).decode()


def saml_response() -> str:
    xml = (
        f'<samlp:Response xmlns:samlp="{SAMLP}" xmlns:saml="{SAML}" ID="_e2e-resp" Version="2.0">'
        f'<saml:Issuer>{NEWCO_IDP}</saml:Issuer><saml:Assertion ID="_e2e-a" Version="2.0">'
        f"<saml:Issuer>{NEWCO_IDP}</saml:Issuer><saml:Subject><saml:NameID>bob@newcompany.com</saml:NameID>"
        "</saml:Subject></saml:Assertion></samlp:Response>"
    ).encode()
    return base64.b64encode(xml).decode()


def test_the_flow_comment_names_the_decision_and_the_mark_the_provider(mitmweb):
    assert mitmweb.option("web_columns") == ["tls", "icon", "path", "method", "status", "size", "time", "comment"]

    r = mitmweb.http.get(f"{mitmweb.url}/authorize?login_hint=bob@newcompany.com&response_type=code", timeout=10)
    assert (r.status_code, r.text) == (200, "scalekit\n")
    flow = mitmweb.flow_for("GET", "/authorize?login_hint=bob@newcompany.com")
    assert flow["comment"] == "→ scalekit · org · org newcompany.com · login_hint domain", flow["comment"]
    assert flow["marked"] == "🔵"  # the migration target

    r = mitmweb.http.get(f"{mitmweb.url}/authorize?login_hint=alice@megasoft.com&response_type=code", timeout=10)
    assert r.text == "legacy\n"
    flow = mitmweb.flow_for("GET", "/authorize?login_hint=alice@megasoft.com")
    assert "→ legacy" in flow["comment"] and "org megasoft.com" in flow["comment"], flow["comment"]
    assert flow["marked"] == "🟠"  # the default (legacy) provider, for an org

    with requests.Session() as fresh:  # no sticky cookie from the logins above
        fresh.trust_env = False
        r = fresh.get(f"{mitmweb.url}/assets/app.css", timeout=10)
    assert r.text == "legacy\n"
    flow = mitmweb.flow_for("GET", "/assets/app.css")
    assert flow["comment"].startswith("→ legacy · default"), flow["comment"]
    assert flow["marked"] == "⚪"  # nothing named an org

    endpoint = mitmweb.flow_for("GET", "/.sso-router/ready", timeout=1)  # the router's own answer: no mark
    assert endpoint["marked"] == ""


def test_columns_the_user_chose_are_kept(tmp_path):
    upstream = Upstream("legacy")
    mapping_path = tmp_path / "mapping.toml"
    web = Mitmweb(tmp_path, mapping_path, extra_args=["--set", "web_columns=path", "--set", "web_columns=status"])
    try:
        mapping_path.write_text(mapping(web.url, upstream.url, upstream.url))
        web.start()
        assert web.option("web_columns") == ["path", "status"]  # no comment column forced on them
        assert web.http.get(f"{web.url}/authorize?login_hint=bob@newcompany.com", timeout=10).text == "legacy\n"
        assert web.flow_for("GET", "/authorize?login_hint=bob@newcompany.com")["marked"] == "🔵"  # marks still
    finally:
        web.stop()
        upstream.stop()


def test_saml_flows_render_with_the_saml_view(mitmweb):
    r = mitmweb.http.post(
        f"{mitmweb.url}/login/callback", data={"SAMLResponse": saml_response(), "RelayState": "r"}, timeout=10
    )
    assert r.text == "scalekit\n"  # routed by the Issuer
    posted = mitmweb.flow_for("POST", "/login/callback")
    assert "→ scalekit" in posted["comment"] and "org newcompany.com" in posted["comment"], posted["comment"]

    r = mitmweb.http.get(f"{mitmweb.url}/saml2?SAMLRequest={urllib.parse.quote(authn_request())}", timeout=10)
    assert r.status_code == 200
    redirect = mitmweb.flow_for("GET", "/saml2?SAMLRequest=")

    assert mitmweb.views_registered(), "mitmweb lists no SAML/JWT contentview: the addon did not register them"
    view = mitmweb.content_view(redirect["id"])
    assert view["view_name"] == "SAML" and view["syntax_highlight"] == "xml", view
    assert "SAMLRequest · query · HTTP-Redirect binding · AuthnRequest" in view["text"]
    assert f"Issuer:       {SP_ISSUER}" in view["text"].splitlines()

    view = mitmweb.content_view(posted["id"])
    assert view["view_name"] == "SAML", view
    lines = view["text"].splitlines()
    assert f"Issuer:       {NEWCO_IDP}" in lines and "NameID:       bob@newcompany.com" in lines
