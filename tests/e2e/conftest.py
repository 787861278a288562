"""Fixtures of the end-to-end suite: key material, the peer world, and real mitmdump processes.

- ``keys`` (session): RSA keys/certificates for the IdPs and providers.
- ``world`` (module): SAML IdP, OIDC IdP, ``legacy`` and ``scalekit`` on 127.0.0.1, wired around a
  proxy port picked up front. ``peers`` (function) is the same world with its request logs cleared.
- ``proxy`` (module): mitmdump with the module's mapping (``world.base_mapping()`` passed through the
  module's ``configure_mapping(mapping, world)`` when it defines one).
- ``start_proxy`` (function): a factory for mitmdumps that live for one test (``port=0``: one that
  binds its own port, for a proxy no peer needs to know in advance).
- every running proxy's ``decision_for`` looks only at requests made since the test began.
"""

from __future__ import annotations

import pathlib
import time

import pytest

from .peers.keys import make_keypair
from .proxy import Mitmdump
from .world import Keys, World

_running: list[Mitmdump] = []


@pytest.fixture(scope="session")
def keys(tmp_path_factory) -> Keys:
    d = tmp_path_factory.mktemp("keys")
    return Keys(*(make_keypair(d, n) for n in ("idp", "oidc", "legacy", "scalekit")))


@pytest.fixture(scope="module")
def world(keys):
    w = World(keys).start()
    try:
        yield w
    finally:
        w.stop()


@pytest.fixture
def peers(world) -> World:
    world.clear()
    return world


def _launch(workdir: pathlib.Path, port: int, mapping: dict, wait_ready: bool = True, **kw) -> Mitmdump:
    m = Mitmdump(workdir, port, mapping, **kw)
    _running.append(m)
    try:
        m.start(wait_ready=wait_ready)
    except BaseException:
        _running.remove(m)
        m.stop(drain=False)
        raise
    return m


@pytest.fixture(scope="module")
def proxy(world, request, tmp_path_factory):
    mapping = world.base_mapping()
    configure = getattr(request.module, "configure_mapping", None)
    if configure is not None:
        configure(mapping, world)
    m = _launch(tmp_path_factory.mktemp("proxy"), world.proxy_port, mapping)
    try:
        yield m
    finally:
        m.stop(drain=False)
        _running.remove(m)


@pytest.fixture
def start_proxy(world, tmp_path):
    """``start_proxy(mapping=None, port=None, **Mitmdump kwargs)``: stopped when the test ends."""
    started: list[Mitmdump] = []

    def start(mapping: dict | None = None, *, port: int | None = None, name: str = "mitmdump", **kw) -> Mitmdump:
        m = _launch(
            tmp_path, world.proxy_port if port is None else port, mapping or world.base_mapping(), name=name, **kw
        )
        started.append(m)
        return m

    try:
        yield start
    finally:
        for m in started:
            m.stop(drain=False)
            _running.remove(m)


@pytest.fixture(autouse=True)
def _decisions_of_this_test():
    """A decision-log line an earlier test left behind never answers ``decision_for`` in this one."""
    now = time.time()
    for m in _running:
        m.since = now
    yield


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    if rep.when == "call" and rep.failed and _running:
        for m in _running:
            rep.sections.append((f"mitmdump :{m.port} output", m.output()))
            rep.sections.append((f"mitmdump :{m.port} decisions", "\n".join(map(str, m.decisions()[-15:]))))
