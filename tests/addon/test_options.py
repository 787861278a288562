"""The router's options (routing/mitm/options.py) through ``configure``: a refused value is an
``OptionsError`` naming the option (mitmproxy rolls the change back, or exits at startup), and the
secret policy of the contract's options table."""

from __future__ import annotations

import pytest
from mitmproxy import exceptions
from mitmproxy.test import taddons

from routing.mitm.addon import SSORouter
from routing.mitm.process import ProcessState
from tests.addon.harness import routing


async def test_bad_mapping_is_an_options_error(tmp_path):
    p = tmp_path / "bad.toml"
    p.write_text('[router]\npublic_url = "https://a"\n[providers.legacy]\nupstream = "nope"\n')
    router = SSORouter(ProcessState())
    with taddons.context(router) as tctx:
        with pytest.raises(exceptions.OptionsError, match=r"providers\.legacy\.upstream"):
            tctx.configure(router, sso_mapping=str(p), sso_secret="x")


async def test_secret_rules(mapping_file, monkeypatch, caplog):
    monkeypatch.delenv("SSO_ROUTER_SECRET", raising=False)
    caplog.set_level("WARNING")
    with routing(mapping_file, secret=None) as (router, tctx):
        assert len(router.runtime.secret) == 32  # memory:// without a secret: a random per-process key
        with pytest.raises(exceptions.OptionsError, match="sso_secret is required"):
            tctx.configure(router, sso_store="sqlite:///tmp/x.db")  # a shared store needs one
        monkeypatch.setenv("SSO_ROUTER_SECRET", "from-env")
        tctx.configure(router, sso_secret="")
        assert router.runtime.secret == b"from-env"
    assert any("random per-process key" in r.getMessage() and r.levelname == "WARNING" for r in caplog.records)


@pytest.mark.parametrize("value,ok", [("0.5", True), ("2", True), ("0", False), ("abc", False), ("-1", False)])
async def test_store_timeout_option(mapping_file, value, ok):
    with routing(mapping_file) as (router, tctx):
        if ok:
            tctx.configure(router, sso_store_timeout=value)
            assert router.runtime.stores.timeout == float(value)
        else:
            with pytest.raises(exceptions.OptionsError, match="sso_store_timeout"):
                tctx.configure(router, sso_store_timeout=value)
