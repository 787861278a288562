"""A certificate authority made for one test session, and leaves it issues (``cryptography``).

- ``CertAuthority(directory)``: a CA certificate (``ca_file``) — the company's, or a private CA of a provider.
- ``ca.issue("auth.yourapp.test")``: a ``Leaf`` with its key, its certificate, and ``pem_file`` (key
  + leaf + CA: what ``mitmdump --certs name=FILE`` takes), its SHA-256 fingerprint and its SPKI hash
  (what Chromium's ``--ignore-certificate-errors-spki-list`` takes).
- ``ca.server_context(leaf)`` / ``ca.client_context()``: ``ssl`` contexts for peers and clients.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import ipaddress
import pathlib
import ssl
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID


@dataclass(frozen=True)
class Leaf:
    names: tuple[str, ...]
    key_file: str
    cert_file: str  # the leaf alone
    pem_file: str  # key, leaf and the CA: a PEM "with key and chain"
    der: bytes
    spki_sha256: str  # base64 SHA-256 of the SubjectPublicKeyInfo

    @property
    def fingerprint(self) -> str:
        return hashlib.sha256(self.der).hexdigest()


def _spki_sha256(public_key) -> str:
    spki = public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return base64.b64encode(hashlib.sha256(spki).digest()).decode()


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


class CertAuthority:
    def __init__(self, directory: pathlib.Path, name: str = "Test Company Root CA"):
        self.dir = directory
        directory.mkdir(parents=True, exist_ok=True)
        self.key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
        self.cert = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(subject)
            .public_key(self.key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(_now() - datetime.timedelta(days=1))
            .not_valid_after(_now() + datetime.timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    key_cert_sign=True,
                    crl_sign=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(self.key.public_key()), critical=False)
            .sign(self.key, hashes.SHA256())
        )
        slug = name.lower().replace(" ", "-")
        self.ca_file = str(directory / f"{slug}.crt")
        pathlib.Path(self.ca_file).write_bytes(self.cert.public_bytes(serialization.Encoding.PEM))

    @property
    def spki_sha256(self) -> str:
        """Base64 SHA-256 of the CA's SubjectPublicKeyInfo: Chromium's ``--ignore-certificate-errors-spki-list``
        accepts a chain that holds it (every leaf here is served with its CA)."""
        return _spki_sha256(self.key.public_key())

    def issue(self, *names: str) -> Leaf:
        """A server certificate for ``names`` (DNS names or IP addresses), signed by this CA."""
        key = ec.generate_private_key(ec.SECP256R1())
        sans = [
            x509.IPAddress(ipaddress.ip_address(n)) if n.replace(".", "").isdigit() else x509.DNSName(n) for n in names
        ]
        cert = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])]))
            .issuer_name(self.cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(_now() - datetime.timedelta(days=1))
            .not_valid_after(_now() + datetime.timedelta(days=30))
            .add_extension(x509.SubjectAlternativeName(sans), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(self.key.public_key()), critical=False)
            .sign(self.key, hashes.SHA256())
        )
        key_pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        cert_pem = cert.public_bytes(serialization.Encoding.PEM)
        ca_pem = self.cert.public_bytes(serialization.Encoding.PEM)
        base = self.dir / names[0]
        paths = {ext: pathlib.Path(f"{base}.{ext}") for ext in ("key", "crt", "pem")}
        paths["key"].write_bytes(key_pem)
        paths["crt"].write_bytes(cert_pem)
        paths["pem"].write_bytes(key_pem + cert_pem + ca_pem)
        return Leaf(
            tuple(names),
            str(paths["key"]),
            str(paths["crt"]),
            str(paths["pem"]),
            cert.public_bytes(serialization.Encoding.DER),
            _spki_sha256(key.public_key()),
        )

    def server_context(self, leaf: Leaf) -> ssl.SSLContext:
        """For a peer serving ``leaf`` (HTTP/1.1 only, as the peers speak it)."""
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(leaf.pem_file)
        context.set_alpn_protocols(["http/1.1"])
        return context

    def client_context(self) -> ssl.SSLContext:
        """For a client that trusts this CA only."""
        return ssl.create_default_context(cafile=self.ca_file)
