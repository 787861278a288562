from __future__ import annotations

import time

import pytest

from routing.errors import MappingError
from routing.mapping_loader import load_mapping, load_mapping_file
from routing.reload import MappingHolder
from tests.unit.samples import MAPPING


def test_example_mapping_in_the_repo_loads():
    m = load_mapping_file("mapping.toml")
    assert m.orgs["megasoft.com"].migrated is False and m.orgs["newcompany.com"].migrated is True
    assert m.provider_for_org(m.orgs["newcompany.com"]) == "scalekit"


def test_indexes(mapping):
    assert mapping.by_domain["megasoft.io"] == "megasoft.com"
    assert mapping.by_domain["newcompany.com"] == "newcompany.com"
    assert mapping.by_entity_id["https://sts.windows.net/newco/"] == "newcompany.com"
    assert mapping.by_test_user["it-admin@megasoft.com"] == "megasoft.com"
    assert mapping.settings.hosts == {"auth.yourapp.com", "localhost"}
    assert mapping.providers["scalekit"].upstream.port == 8443


def test_objects_are_frozen(mapping):
    with pytest.raises(AttributeError):  # Org is a NamedTuple: its fields are read-only
        mapping.orgs["megasoft.com"].migrated = True  # type: ignore[misc]
    with pytest.raises(TypeError):
        mapping.by_domain["x.com"] = "y"  # type: ignore[index]


BASE = '''
[router]
public_url = "https://auth.example.com"
[providers.legacy]
upstream = "https://legacy.example.com"
[providers.scalekit]
upstream = "https://sk.example.com"
'''


@pytest.mark.parametrize("extra,key,words", [
    ('[router]\nnope = 1', None, "invalid TOML"),  # TOML itself refuses a second [router]
    ('[orgs."a.com"]\nmigrated = "yes"', 'orgs."a.com".migrated', "true or false"),
    ('[orgs."a.com"]\ncolour = "red"', 'orgs."a.com".colour', "unknown key"),
    ('[orgs."a.com"]\ndomains = ["x.com"]\n[orgs."b.com"]\ndomains = ["X.com"]', 'orgs."b.com".domains', "already claimed"),
    ('[orgs."a.com"]\n[orgs."b.com"]\ndomains = ["a.com"]', 'orgs."b.com".domains', "already claimed"),
    ('[orgs."a.com"]\nidp_entity_ids = ["e"]\n[orgs."b.com"]\nidp_entity_ids = ["e"]', 'orgs."b.com".idp_entity_ids', "already claimed"),
    ('[orgs."a.com"]\noidc_issuers = ["i"]\n[orgs."b.com"]\noidc_issuers = ["i"]', 'orgs."b.com".oidc_issuers', "already claimed"),
    ('[orgs."a.com"]\nconnections = ["c"]\n[orgs."b.com"]\nconnections = ["c"]', 'orgs."b.com".connections', "already claimed"),
    ('[orgs."a.com"]\norg_ids = ["o"]\n[orgs."b.com"]\norg_ids = ["o"]', 'orgs."b.com".org_ids', "already claimed"),
    ('[orgs."a.com"]\nclient_ids = ["c"]\n[orgs."b.com"]\nclient_ids = ["c"]', 'orgs."b.com".client_ids', "already claimed"),
    ('[providers.third]\nupstream = "ftp://x"', "providers.third.upstream", "bad URL"),
    ('[providers.third]\nupstream = "https://x/path"', "providers.third.upstream", "no path"),
    ('[providers.third]\nupstream = "https://x"\nkind = "okta"', "providers.third.kind", "unknown kind"),
    ('[providers.third]\nupstream = "https://x"\npaths = ["/keys"]\n[providers.fourth]\nupstream = "https://y"\npaths = ["/keys/"]',
     "providers.fourth.paths", "already claimed"),
    ('[providers.third]\nupstream = "https://x"\npaths = ["keys"]', "providers.third.paths[0]", "start with"),
    ('[orgs."a.com"]\ntarget_paths = { "/a" = 3 }', 'orgs."a.com".target_paths./a', "want"),
    ('[orgs."a.com"]\ntest_users = "x@a.com"', 'orgs."a.com".test_users', "list"),
])
def test_invalid_mapping_names_the_key(extra, key, words):
    with pytest.raises(MappingError) as e:
        load_mapping((BASE + extra).encode())
    assert words in str(e.value)
    if key:
        assert e.value.key == key, str(e.value)


@pytest.mark.parametrize("router,key", [
    ('default_provider = "auth0"', "router.default_provider"),
    ('migration_target = "sk"', "router.migration_target"),
    ('correlation_ttl = 0', "router.correlation_ttl"),
    ('debug_headers = "yes"', "router.debug_headers"),
    ('shadow = 1', "router.shadow"),
    ('limits = { max_body = -1 }', "router.limits.max_body"),
    ('limits = { max_bodies = 1 }', "router.limits.max_bodies"),
    ('public_url = "auth.example.com"', "router.public_url"),
])
def test_invalid_router_settings(router, key):
    text = BASE.replace('[router]\npublic_url = "https://auth.example.com"', f'[router]\npublic_url = "https://a.example.com"\n{router}'
                        if not router.startswith("public_url") else f"[router]\n{router}")
    with pytest.raises(MappingError) as e:
        load_mapping(text.encode())
    assert e.value.key == key, str(e.value)


def test_error_carries_the_line():
    text = BASE + '\n[orgs."a.com"]\nmigrated = "no"\n'
    with pytest.raises(MappingError) as e:
        load_mapping(text.encode())
    assert e.value.line == text.splitlines().index('migrated = "no"') + 1
    assert f"line {e.value.line}" in str(e.value)


def test_same_value_twice_in_one_org_is_fine():
    m = load_mapping((BASE + '[orgs."newco.com"]\ndomains = ["newco.io"]\nconnections = ["newco.io"]\norg_ids=["newco.io"]').encode())
    assert m.by_connection["newco.io"] == m.by_domain["newco.io"] == "newco.com"


def test_hosts_are_case_insensitive_and_portless():
    m = load_mapping(BASE.replace('public_url = "https://auth.example.com"',
                                  'public_url = "https://Auth.Example.com:8443"\nhosts = ["Other.Example.com:9000", "localhost"]').encode())
    assert m.settings.hosts == {"auth.example.com", "other.example.com", "localhost"}
    assert m.settings.public_url == "https://auth.example.com:8443"


def test_holder_keeps_last_good_and_applies_a_later_good_edit(tmp_path):
    p = tmp_path / "m.toml"
    p.write_bytes(MAPPING)
    h = MappingHolder(str(p), clock=time.time)
    first = h.load()
    p.write_text(MAPPING.decode().replace("migrated = true", 'migrated = "maybe"'))
    r = h.reload_if_changed()
    assert r.status == "rejected" and 'orgs."newcompany.com".migrated' in r.message
    assert h.mapping is first
    p.write_text(MAPPING.decode().replace("migrated = true", "migrated = false") + "\n# edited\n")
    assert h.reload_if_changed().status == "ok"
    assert h.mapping.orgs["newcompany.com"].migrated is False
    assert h.reload_if_changed().status == "unchanged"


# -- the streamed path for big mappings must give exactly what the whole-document path gives --

def _big(n: int, *, extra: str = "", scalekit_last: bool = False) -> bytes:
    head = ('[router]\npublic_url = "https://auth.example.com"\nhosts = ["localhost"]\n'
            '[providers.legacy]\nupstream = "https://legacy.example.com"\n')
    sk = '[providers.scalekit]\nupstream = "https://sk.example.com"\n'
    if not scalekit_last:
        head, sk = head + sk, ""
    orgs = "".join(
        f'[orgs."org{i}.com"]  # org {i}\nmigrated = {"true" if i % 3 == 0 else "false"}\n'
        f'domains = [\n  "org{i}.io",\n  "Org{i}.NET",\n]\nidp_entity_ids = ["http://idp/{i}"]\n'
        f"connections = ['conn_{i}']\n" + (f'target_paths = {{ "/a" = "/b/{i}" }}\n' if i % 7 == 0 else "")
        for i in range(n))
    return (head + orgs + sk + extra).encode()


@pytest.fixture
def small_chunks(monkeypatch):
    import routing.mapping_loader as ml
    monkeypatch.setattr(ml, "STREAM_ABOVE", 0)
    monkeypatch.setattr(ml, "CHUNK_BYTES", 700)
    calls = []
    real = ml._Builder.build_streamed

    def streamed(self, v):
        try:
            return real(self, v)
        except ml._Fallback:
            calls.append("whole")
            raise
    monkeypatch.setattr(ml._Builder, "build_streamed", streamed)
    return calls


def _whole(data: bytes):
    import routing.mapping_loader as ml
    try:
        doc = ml._parse_toml(data.decode())
    except ValueError as e:
        raise MappingError("", f"invalid TOML: {e}") from e
    return ml._Builder(doc, data.decode()).build("v")


def test_chunks_cut_only_before_table_headers():
    import routing.mapping_loader as ml
    text = _big(30).decode() + "[[odd]]\nx = 1\n"
    old = ml.CHUNK_BYTES
    try:
        ml.CHUNK_BYTES = 300
        pieces = list(ml._chunks(text))
    finally:
        ml.CHUNK_BYTES = old
    assert "".join(pieces) == text and len(pieces) > 10
    assert all(p.startswith("[") and not p.startswith("[[") for p in pieces[1:])


def test_streamed_equals_whole_document(small_chunks):
    data = _big(53)
    streamed = load_mapping(data)
    assert small_chunks == []  # the streamed path did it all
    whole = _whole(data)
    assert dict(streamed.orgs) == dict(whole.orgs)
    for name in ("by_domain", "by_connection", "by_entity_id", "by_path"):
        assert dict(getattr(streamed, name)) == dict(getattr(whole, name))
    assert streamed.settings == whole.settings and dict(streamed.providers) == dict(whole.providers)


@pytest.mark.parametrize("extra,fallback", [
    ('[orgs."org1.com".target_paths]\n"/x" = "/y"\n', True),  # one org's tables in two chunks
    ('[orgs."org2.com"]\nmigrated = true\n', True),  # an org defined twice: TOML refuses it
    ('[router.limits]\nmax_body = 10\n', True),  # a sub-table of [router] in another chunk
    ('[router]\nshadow = true\n', True),  # [router] defined twice: TOML refuses it
])
def test_streamed_falls_back_and_agrees(small_chunks, extra, fallback):
    data = _big(12, extra=extra)
    try:
        got = load_mapping(data)
    except MappingError as e:
        got = e
    assert small_chunks == (["whole"] if fallback else [])
    try:
        want = _whole(data)
    except MappingError as e:
        want = e
    if isinstance(want, MappingError):
        assert isinstance(got, MappingError) and str(got) == str(want)
    else:
        assert dict(got.orgs) == dict(want.orgs)


def test_streamed_error_is_worded_with_its_line(small_chunks):
    data = _big(20).replace(b'[orgs."org13.com"]  # org 13\nmigrated = false', b'[orgs."org13.com"]  # org 13\nmigrated = "no"')
    with pytest.raises(MappingError) as e:
        load_mapping(data)
    assert e.value.key == 'orgs."org13.com".migrated' and e.value.line and small_chunks == ["whole"]


def test_providers_after_the_orgs_falls_back_and_agrees(small_chunks):
    data = _big(12, scalekit_last=True)
    assert dict(load_mapping(data).providers) == dict(_whole(data).providers) and small_chunks == ["whole"]


@pytest.mark.parametrize("chunk", [1, 40, 80, 120, 160, 200, 400])
def test_a_header_like_line_inside_a_multiline_string_is_not_a_table(monkeypatch, chunk):
    import routing.mapping_loader as ml
    monkeypatch.setattr(ml, "STREAM_ABOVE", 0)
    monkeypatch.setattr(ml, "CHUNK_BYTES", chunk)
    data = _big(6).replace(b'hosts = ["localhost"]',
                           b'hosts = ["localhost"]\nforce_header_secret = """\n[orgs."fake.com"]\nmigrated = true\n"""')
    got = load_mapping(data)
    assert "fake.com" not in got.orgs and got.settings.force_header_secret.startswith('[orgs."fake.com"]')
    assert dict(got.orgs) == dict(_whole(data).orgs)


def test_health_says_ok_again_when_a_bad_edit_is_reverted(tmp_path):
    p = tmp_path / "m.toml"
    p.write_bytes(MAPPING)
    h = MappingHolder(str(p), clock=time.time)
    h.load()
    p.write_text(MAPPING.decode().replace("migrated = true", "migrated = 1"))
    assert h.reload_if_changed().status == "rejected" and h.last.status == "rejected"
    p.write_bytes(MAPPING)  # git checkout mapping.toml: the served version again
    assert h.reload_if_changed().status == "unchanged"
    assert h.last.status == "ok"
