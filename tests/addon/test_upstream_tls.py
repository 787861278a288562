"""Which trust store upstreams are verified against (routing/mitm/upstream_tls.py); the end-to-end
behaviour (a private CA per provider, 502s) is tests/e2e/test_tls.py."""

from __future__ import annotations

import ssl

from mitmproxy.test import taddons

from routing.mitm import upstream_tls


def test_the_system_bundle_is_what_openssl_names(monkeypatch, tmp_path):
    bundle = tmp_path / "company-bundle.pem"
    bundle.write_text("")
    monkeypatch.setenv("SSL_CERT_FILE", str(bundle))
    assert upstream_tls.system_ca_bundle() == str(bundle)
    monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / "missing.pem"))  # then OpenSSL's own, or a distro's
    paths = ssl.get_default_verify_paths()
    assert upstream_tls.system_ca_bundle() in (paths.cafile, paths.openssl_cafile, *upstream_tls.SYSTEM_BUNDLES)


def test_unset_trust_options_become_the_system_store(monkeypatch, tmp_path):
    bundle = tmp_path / "bundle.pem"
    bundle.write_text("")
    monkeypatch.setenv("SSL_CERT_FILE", str(bundle))
    with taddons.context() as tctx:
        assert tctx.options.ssl_verify_upstream_trusted_ca is None  # mitmproxy alone: certifi
        upstream_tls.default_to_system_trust(tctx.options)
        assert tctx.options.ssl_verify_upstream_trusted_ca == str(bundle)


def test_a_trust_store_the_user_chose_is_kept(monkeypatch, tmp_path):
    monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path))  # not a file: never picked
    for option in ("ssl_verify_upstream_trusted_ca", "ssl_verify_upstream_trusted_confdir"):
        with taddons.context() as tctx:
            tctx.options.update(**{option: str(tmp_path / "mine")})
            upstream_tls.default_to_system_trust(tctx.options)
            others = {"ssl_verify_upstream_trusted_ca", "ssl_verify_upstream_trusted_confdir"} - {option}
            assert getattr(tctx.options, option) == str(tmp_path / "mine")
            assert getattr(tctx.options, others.pop()) is None


def test_no_system_bundle_keeps_certifi_and_warns(monkeypatch, caplog):
    monkeypatch.setattr(upstream_tls, "system_ca_bundle", lambda: None)
    with taddons.context() as tctx:
        upstream_tls.default_to_system_trust(tctx.options)
        assert tctx.options.ssl_verify_upstream_trusted_ca is None
    assert any("no system CA bundle" in r.getMessage() and r.levelname == "WARNING" for r in caplog.records)
