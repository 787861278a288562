"""Issue 13 point 4: a loaded mapping is invisible to the cyclic GC by its shape, so nothing needs
freezing (``gc.freeze()`` pinned every connection alive at each reload, for ever). Full collections
would otherwise walk every org again and again (bench/README.md: the cost per request)."""

from __future__ import annotations

import gc
from types import MappingProxyType

import pytest

from routing import mapping_loader
from routing.mapping_loader import load_mapping

HEAD = """
[router]
public_url = "https://auth.example.com"
[providers.legacy]
upstream = "https://legacy.example.com"
[providers.scalekit]
upstream = "https://sk.example.com"
"""


def orgs_toml(n: int) -> str:
    """Every kind of per-org value, target_paths on every third org."""
    return "".join(
        f'[orgs."org{i}.example"]\nmigrated = {"true" if i % 2 else "false"}\n'
        f'domains = ["org{i}.example.net", "mail.org{i}.example"]\nidp_entity_ids = ["http://www.okta.com/exk{i:010d}"]\n'
        f'oidc_issuers = ["https://org{i}.okta.example"]\nconnections = ["org{i}-saml", "conn_{i:012d}"]\n'
        f'org_ids = ["org_{i}"]\nclient_ids = ["cli_{i:08d}"]\ntest_users = ["admin@org{i}.example"]\n'
        f'directories = ["dir_{i}"]\nscim_token_sha256 = ["{i:064X}"]\n'
        + (
            f'target_paths = {{ "/login/callback" = "/sso/v1/saml/conn_{i:012d}/acs", "/samlp/x" = "/sso/x" }}\n'
            if i % 3 == 0
            else ""
        )
        + "\n"
        for i in range(n)
    )


def tracked() -> int:
    return len(gc.get_objects())


@pytest.mark.parametrize("n", [2_000, 20_000], ids=["whole-document", "streamed"])
def test_a_loaded_mapping_leaves_the_cyclic_gc_nothing_per_org(n):
    data = (HEAD + orgs_toml(n)).encode()
    assert (len(data) > mapping_loader.STREAM_ABOVE) == (n > 10_000)  # both loader paths
    gc.collect()
    before = tracked()
    m = load_mapping(data)
    after_load = tracked() - before
    gc.collect()  # a full collection untracks the orgs dict too (its rows were tracked when inserted)
    settled = tracked() - before
    assert len(m.orgs) == n
    print(f"{n} orgs: {after_load} more tracked objects right after the load, {settled} after a full collection")
    # the Mapping, its settings and providers, the read-only views of its indexes: a fixed few
    assert settled < 40, f"{settled} tracked objects for {n} orgs"
    assert after_load < 60, f"{after_load} objects still tracked right after loading {n} orgs"


def test_orgs_read_as_org_records_with_read_only_target_paths():
    m = load_mapping((HEAD + orgs_toml(4)).encode())
    o = m.orgs["org1.example"]
    assert (o.key, o.migrated, o.domains, o.scim_token_sha256) == (
        "org1.example",
        True,
        ("org1.example.net", "mail.org1.example"),
        (f"{1:064x}",),
    )
    assert m.orgs["org0.example"].target_paths == {
        "/login/callback": "/sso/v1/saml/conn_000000000000/acs",
        "/samlp/x": "/sso/x",
    }
    assert isinstance(m.orgs["org0.example"].target_paths, MappingProxyType)
    with pytest.raises(TypeError):
        m.orgs["org0.example"].target_paths["/x"] = "/y"  # type: ignore[index]
    assert o.target_paths == {} and not o.target_paths
    assert m.orgs.get("nope.example") is None and "org1.example" in m.orgs and "nope.example" not in m.orgs
    assert [x.key for x in m.orgs.values()] == [f"org{i}.example" for i in range(4)]
    assert dict(m.orgs) == {k: m.orgs[k] for k in m.orgs} and len(m.orgs) == 4
    with pytest.raises(KeyError):
        m.orgs["nope.example"]


def test_the_hot_path_reads_of_a_row_agree_with_its_org_view():
    m = load_mapping((HEAD + orgs_toml(6)).encode())
    for key in m.orgs:
        org = m.orgs[key]
        assert m.orgs.is_migrated(key) is org.migrated
        assert m.provider_for(key) == m.provider_for_org(org)
        for path in (*org.target_paths, "/login/callback", "/nowhere"):
            assert m.orgs.target_path(key, path) == org.target_paths.get(path)
    assert m.orgs.target_path("no-such.example", "/login/callback") is None
    assert {m.orgs.is_migrated(k) for k in m.orgs} == {True, False}  # the sample has both kinds
