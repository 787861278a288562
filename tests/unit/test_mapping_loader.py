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
    with pytest.raises(Exception):
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
    ('[router]\nnope = 1', None, "Cannot declare"),  # TOML itself refuses a second [router]
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
