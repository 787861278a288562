"""Upstream TLS trust: the system's trust store by default, a private CA for one provider.

mitmproxy 12.2 verifies upstream certificates against certifi's bundle unless
``ssl_verify_upstream_trusted_ca`` or ``ssl_verify_upstream_trusted_confdir`` is set
(``mitmproxy.net.tls.create_proxy_server_context``). The contract wants the system's trust store
(the one the company's own CAs and its OS updates go into): ``default_to_system_trust`` points
``ssl_verify_upstream_trusted_ca`` at it when the user set neither option.

A provider whose mapping names ``ca_file`` is verified against the certificates of that file only
(like ``curl --cacert``). mitmproxy's tlsconfig addon still builds the connection as for any
upstream — SNI, host name check, ALPN, versions, ciphers, ``ssl_insecure`` —, then its
``SSL.Context`` is swapped for one whose store holds the provider's CAs (pyOpenSSL's public
``Connection.set_context``). OpenSSL checks a peer against the store of the connection's context
when the handshake runs; the verify mode, host name, SNI and ALPN belong to the connection itself
and stay. ``tests/e2e/test_tls.py`` pins it: the provider's CA works for that provider only.
"""

from __future__ import annotations

import functools
import logging
import os
import ssl
from collections.abc import Mapping as TypingMapping
from typing import Any

from cryptography import x509
from mitmproxy import ctx, tls
from mitmproxy.net import tls as net_tls
from OpenSSL import SSL, crypto

from ..model import Provider

log = logging.getLogger("sso_router")

# Where distributions keep the system's CA bundle, after what Python's OpenSSL says (which
# honours SSL_CERT_FILE). pyOpenSSL's bundled OpenSSL knows none of these by itself.
SYSTEM_BUNDLES = (
    "/etc/ssl/certs/ca-certificates.crt",  # Debian, Ubuntu, Alpine (ca-certificates)
    "/etc/pki/tls/certs/ca-bundle.crt",  # Fedora, RHEL
    "/etc/ssl/ca-bundle.pem",  # openSUSE
    "/etc/ssl/cert.pem",  # Alpine, macOS, BSDs
)


def system_ca_bundle() -> str | None:
    """The system's CA bundle file, or None when this machine has none we know."""
    paths = ssl.get_default_verify_paths()
    for candidate in (os.environ.get("SSL_CERT_FILE"), paths.cafile, paths.openssl_cafile, *SYSTEM_BUNDLES):
        if candidate and os.path.isfile(candidate):
            return candidate
    return None


def default_to_system_trust(options: Any) -> None:
    """Verify upstreams against the system's trust store unless the user chose a trust store."""
    if "ssl_verify_upstream_trusted_ca" not in options:
        return
    if options.ssl_verify_upstream_trusted_ca or options.ssl_verify_upstream_trusted_confdir:
        return
    bundle = system_ca_bundle()
    if bundle is None:
        log.warning(
            "sso-router: no system CA bundle found (set SSL_CERT_FILE or "
            "ssl_verify_upstream_trusted_ca); upstream TLS is verified against certifi's bundle"
        )
        return
    options.update(ssl_verify_upstream_trusted_ca=bundle)


def start_server(data: tls.TlsData, providers: TypingMapping[tuple[str, int], Provider]) -> None:
    """``tls_start_server``: for a provider with ``ca_file``, build the connection as mitmproxy
    would, then make it trust that provider's CAs only. Anything else is left to tlsconfig."""
    if data.ssl_conn is not None or data.is_dtls:
        return
    addr = getattr(data.conn, "address", None)  # a Server connection: where it goes
    p = providers.get((addr[0].lower(), addr[1])) if addr else None
    if p is None or not p.ca_pem:
        return
    tlsconfig = ctx.master.addons.get("tlsconfig")
    if tlsconfig is None:  # pragma: no cover — always loaded; without it the default trust applies
        return
    tlsconfig.tls_start_server(data)
    built = _ssl_conn(data)
    if built is not None:
        built.set_context(_trust_context(p.ca_pem, _client_cert(data.conn)))


def _ssl_conn(data: tls.TlsData) -> SSL.Connection | None:
    """Read afresh: tlsconfig has just set it (a type checker still holds the None seen above)."""
    return data.ssl_conn


def _client_cert(server: Any) -> str | None:
    """The client certificate tlsconfig chose for this server (``client_certs``), which lives on
    the context and so must be on the swapped-in one too."""
    if not ctx.options.client_certs:
        return None
    certs = os.path.expanduser(ctx.options.client_certs)
    if os.path.isfile(certs):
        return certs
    path = os.path.join(certs, f"{server.sni or server.address[0]}.pem")
    return path if os.path.isfile(path) else None


@functools.lru_cache(maxsize=64)
def _trust_context(ca_pem: bytes, client_cert: str | None) -> SSL.Context:
    context = SSL.Context(SSL.TLS_CLIENT_METHOD)
    context.set_verify(SSL.VERIFY_PEER)
    store = context.get_cert_store()
    assert store is not None
    for cert in x509.load_pem_x509_certificates(ca_pem):  # the loader checked there is at least one
        store.add_cert(crypto.X509.from_cryptography(cert))
    if client_cert:
        context.use_privatekey_file(client_cert)
        context.use_certificate_chain_file(client_cert)
    if net_tls.log_master_secret:
        context.set_keylog_callback(net_tls.log_master_secret)
    return context
