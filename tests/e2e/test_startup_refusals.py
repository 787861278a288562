"""What mitmdump does with a configuration the router refuses (CONTRACT "Running": a refused option
is an ``OptionsError``; at startup mitmdump exits with the message): it exits non-zero, says why
(mitmproxy's script loader prints the OptionsError with its traceback), and once it has exited
nothing listens on its port."""

from __future__ import annotations

import socket

import pytest

from tests.ports import free_port

from .proxy import Mitmdump

EXIT_WITHIN = 30.0  # s: mitmdump imports, loads the addon, refuses, exits (a loaded 2-core box)


def refused_start(px: Mitmdump) -> str:
    """Starts ``px`` expecting a refusal; returns its output once it has exited."""
    px.start(wait_ready=False)
    try:
        code = px.proc.wait(timeout=EXIT_WITHIN)
    except Exception:
        pytest.fail(f"mitmdump still running {EXIT_WITHIN}s after a refused configuration:\n{px.output()}")
    out = px.output()
    assert code != 0, out
    return out


def nothing_listens(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(1)
        return s.connect_ex(("127.0.0.1", port)) != 0


def test_a_bad_mapping_at_startup(peers, tmp_path):
    mapping = peers.base_mapping()
    mapping["orgs"]["megasoft.com"]["migrated"] = "yes"
    px = Mitmdump(tmp_path, peers.proxy_port, mapping)
    try:
        out = refused_start(px)
    finally:
        px.stop()
    # mitmproxy's script loader shows the OptionsError with its traceback, then exits
    assert "OptionsError: sso_mapping" in out, out
    assert 'orgs."megasoft.com".migrated (line ' in out and "must be true or false" in out, out
    assert "Error logged during startup, exiting" in out and nothing_listens(peers.proxy_port)


def test_a_mapping_that_does_not_exist(peers, tmp_path):
    px = Mitmdump(tmp_path, peers.proxy_port, None, mapping_path=tmp_path / "nowhere.toml")
    try:
        out = refused_start(px)
    finally:
        px.stop()
    assert "OptionsError: sso_mapping" in out and "nowhere.toml: No such file or directory" in out, out
    assert nothing_listens(peers.proxy_port)


@pytest.mark.parametrize("store", ["sqlite:///{tmp}/c.db", "redis://127.0.0.1:{port}/0"], ids=["sqlite", "redis"])
def test_a_shared_store_without_a_secret(peers, tmp_path, store):
    px = Mitmdump(
        tmp_path,
        peers.proxy_port,
        peers.base_mapping(),
        secret=None,
        extra_args=["--set", f"sso_store={store.format(tmp=tmp_path, port=free_port())}"],
    )
    try:
        out = refused_start(px)
    finally:
        px.stop()
    assert "OptionsError: sso_secret is required" in out, out
    assert nothing_listens(peers.proxy_port)


def test_the_secret_from_the_environment_is_enough(peers, tmp_path):
    px = Mitmdump(
        tmp_path,
        0,
        peers.base_mapping(),
        secret=None,
        env={"SSO_ROUTER_SECRET": "from-env"},
        extra_args=["--set", f"sso_store=sqlite:///{tmp_path}/c.db"],
    )
    try:
        px.start()
        assert px.proc.poll() is None and "sso_secret is required" not in px.output()
    finally:
        px.stop(drain=False)
