"""``providers.<name>.ca_file``: a private CA for one https upstream, read and checked when the
mapping loads (a typo is refused with the key and line, not found as 502s later)."""

from __future__ import annotations

import datetime

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from routing.errors import MappingError
from routing.mapping_loader import load_mapping

BASE = """
[router]
public_url = "https://auth.example.com"
[providers.legacy]
upstream = "{upstream}"
ca_file = "{ca_file}"
[providers.scalekit]
upstream = "https://sk.example.com"
"""


@pytest.fixture
def ca_pem(tmp_path) -> tuple[str, bytes]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Private CA")])
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
    pem = cert.public_bytes(serialization.Encoding.PEM)
    path = tmp_path / "ca.pem"
    path.write_bytes(b"# the provider's CA\n" + pem)
    return str(path), path.read_bytes()


def load(ca_file: str, upstream: str = "https://legacy.example.com"):
    return load_mapping(BASE.format(upstream=upstream, ca_file=ca_file).encode())


def test_ca_file_is_read_when_the_mapping_loads(ca_pem):
    path, pem = ca_pem
    m = load(path)
    assert m.providers["legacy"].ca_file == path and m.providers["legacy"].ca_pem == pem
    assert m.providers["scalekit"].ca_pem == b""
    assert "BEGIN CERTIFICATE" not in repr(m.providers["legacy"])  # kept out of reprs and logs


def test_an_empty_ca_file_means_none(ca_pem):
    assert load("").providers["legacy"].ca_pem == b""


@pytest.mark.parametrize(
    "case,words",
    [
        ("relative", "absolute path"),
        ("missing", "cannot read"),
        ("not a certificate", "no PEM certificate"),
        ("a key only", "no PEM certificate"),
        ("http upstream", "https:// upstream"),
    ],
)
def test_a_bad_ca_file_is_refused_with_its_key_and_line(tmp_path, ca_pem, case, words):
    path, upstream = ca_pem[0], "https://legacy.example.com"
    if case == "relative":
        path = "ca.pem"
    elif case == "missing":
        path = str(tmp_path / "nope.pem")
    elif case == "not a certificate":
        (tmp_path / "junk.pem").write_text("-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n")
        path = str(tmp_path / "junk.pem")
    elif case == "a key only":
        key = ec.generate_private_key(ec.SECP256R1()).private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        (tmp_path / "key.pem").write_bytes(key)
        path = str(tmp_path / "key.pem")
    else:
        upstream = "http://legacy.example.com"
    with pytest.raises(MappingError) as e:
        load(path, upstream)
    assert e.value.key == "providers.legacy.ca_file" and words in str(e.value), str(e.value)
    assert e.value.line == 6
