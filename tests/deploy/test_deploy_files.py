"""deploy/: the files a platform team runs are valid for the tools that read them, and say what the
contract needs (health check on ready, X-Forwarded-For, no stickiness, drain time, non-root)."""

from __future__ import annotations

import datetime
import pathlib
import re
import shutil
import subprocess
import sys

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

REPO = pathlib.Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
CERT_PATH = "/etc/haproxy/certs/auth.yourapp.com.pem"
DRAIN_TIMEOUT_DEFAULT = 10  # CONTRACT "In production": sso_drain_timeout defaults to 10 s


def _haproxy_lines() -> list[str]:
    return [ln.split("#", 1)[0].strip() for ln in (DEPLOY / "haproxy.cfg").read_text().splitlines()]


def _pem_for_auth_domain(path: pathlib.Path) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "auth.yourapp.com")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
        + cert.public_bytes(serialization.Encoding.PEM)
    )


def test_haproxy_config_is_valid(tmp_path):
    haproxy = shutil.which("haproxy")
    if haproxy is None:
        pytest.skip("haproxy not installed (apt-get install haproxy)")
    _pem_for_auth_domain(tmp_path / "auth.pem")  # the certificate the config names, made here
    text = (DEPLOY / "haproxy.cfg").read_text()
    assert CERT_PATH in text
    (tmp_path / "haproxy.cfg").write_text(text.replace(CERT_PATH, str(tmp_path / "auth.pem")))
    r = subprocess.run([haproxy, "-c", "-f", str(tmp_path / "haproxy.cfg")], capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "WARNING" not in r.stdout + r.stderr, r.stdout + r.stderr


def test_haproxy_config_says_what_the_router_needs():
    lines = set(_haproxy_lines())
    assert "option httpchk" in lines and "http-check expect status 200" in lines
    assert any(ln.startswith("http-check send meth GET uri /.sso-router/ready") for ln in lines)
    assert "option forwardfor" in lines and "http-request del-header X-Forwarded-For" in lines
    assert "retry-on conn-failure empty-response" in lines and "option http-buffer-request" in lines
    assert not [ln for ln in lines if re.match(r"(cookie|stick|stick-table|balance source)\b", ln)], "no stickiness"
    servers = [ln for ln in lines if ln.startswith("server ")]
    assert len(servers) >= 2 and all(re.search(r" 127\.0\.0\.1:808\d\b", s) for s in servers), servers
    default_server = next(ln for ln in lines if ln.startswith("default-server"))
    assert " check" in f" {default_server}"
    inter = int(re.search(r"inter (\d+)s", default_server).group(1))
    fall = int(re.search(r"fall (\d+)", default_server).group(1))
    assert inter * fall < DRAIN_TIMEOUT_DEFAULT, "a draining router must be out of rotation before it exits"


def test_haproxy_logs_no_query_or_header():
    lines = _haproxy_lines()
    assert "option httplog" not in lines  # its %r is the request line, query string and all
    log_format = next(ln for ln in lines if ln.startswith("log-format"))
    assert not re.search(r"%(r|HU|HQ|hr|hrl|CC)\b", log_format), log_format
    assert not [ln for ln in lines if ln.startswith(("capture ", "http-request capture"))]


def _unit(text: str) -> dict[str, dict[str, list[str]]]:
    """A systemd unit's sections -> key -> values (continuation lines joined, comments dropped)."""
    out: dict[str, dict[str, list[str]]] = {}
    section = ""
    for line in re.sub(r"\\\n\s*", " ", text).splitlines():
        line = line.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            section = line.strip("[]")
            out.setdefault(section, {})
            continue
        key, _, value = line.partition("=")
        out[section].setdefault(key.strip(), []).append(value.strip())
    return out


def test_systemd_unit_says_what_production_needs():
    svc = _unit((DEPLOY / "sso-router@.service").read_text())["Service"]
    assert svc["Restart"] == ["on-failure"]
    assert svc["NoNewPrivileges"] == ["yes"] and svc["ProtectSystem"] == ["strict"]
    assert svc.get("DynamicUser") == ["yes"] or svc.get("User", ["root"])[0] not in ("root", "0")
    assert svc["EnvironmentFile"] and svc["KillSignal"] == ["SIGTERM"]
    assert int(svc["TimeoutStopSec"][0]) > DRAIN_TIMEOUT_DEFAULT
    exec_start = svc["ExecStart"][0]
    assert "-p %i" in exec_start and "--listen-host 127.0.0.1" in exec_start
    assert "-s /opt/sso-router/sso_router_addon.py" in exec_start
    text = (DEPLOY / "sso-router@.service").read_text()
    assert "SSO_ROUTER_SECRET" in text and "SSO_ROUTER_ADMIN_TOKEN" in text
    assert "sso_secret=" not in exec_start, "secrets come from the EnvironmentFile, never the command line"


def test_systemd_unit_verifies(tmp_path):
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze not installed (no systemd on this machine)")
    # the unit names the install prefix /opt/sso-router; verify checks that ExecStart exists, so
    # point it at this checkout and its virtualenv
    text = (DEPLOY / "sso-router@.service").read_text()
    text = text.replace("/opt/sso-router/.venv", sys.prefix).replace("/opt/sso-router", str(REPO))
    (tmp_path / "sso-router@.service").write_text(text)
    (tmp_path / "sso-router@8081.service").symlink_to("sso-router@.service")
    r = subprocess.run(
        [analyze, "verify", str(tmp_path / "sso-router@8081.service")], capture_output=True, text=True, timeout=60
    )
    mine = [ln for ln in (r.stdout + r.stderr).splitlines() if "sso-router@" in ln]
    assert r.returncode == 0 and not mine, r.stdout + r.stderr


def _containerfile() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    text = re.sub(r"\\\n\s*", " ", (DEPLOY / "Containerfile").read_text())
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            instr, _, args = line.partition(" ")
            out.append((instr.upper(), args.strip()))
    return out


def test_containerfile_runs_as_non_root_with_a_health_check():
    steps = _containerfile()
    users = [args for instr, args in steps if instr == "USER"]
    assert users and users[-1].split(":")[0] not in ("root", "0")
    entry_at = next(i for i, (instr, _) in enumerate(steps) if instr == "ENTRYPOINT")
    assert max(i for i, (instr, _) in enumerate(steps) if instr == "USER") < entry_at
    health = [args for instr, args in steps if instr == "HEALTHCHECK"]
    assert len(health) == 1 and "/.sso-router/ready" in health[0] and "CMD" in health[0]
    assert any(instr == "RUN" and "scripts/bootstrap" in args for instr, args in steps)  # the README's install
    entry = dict(steps)["ENTRYPOINT"]
    assert "mitmdump" in entry and "sso_router_addon.py" in entry


def test_containerfile_copies_what_exists():
    for instr, args in _containerfile():
        if instr == "COPY":
            *sources, _dest = args.split()
            for src in sources:
                assert (REPO / src).exists(), f"COPY {src}: not in the repository"
