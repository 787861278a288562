from __future__ import annotations

import dataclasses
import time
import tomllib

import pytest

from routing.errors import MappingError
from routing.limits import Limits
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
    with pytest.raises(dataclasses.FrozenInstanceError):
        mapping.settings.shadow = True  # type: ignore[misc]
    with pytest.raises(TypeError):
        mapping.by_domain["x.com"] = "y"  # type: ignore[index]


BASE = """
[router]
public_url = "https://auth.example.com"
[providers.legacy]
upstream = "https://legacy.example.com"
[providers.scalekit]
upstream = "https://sk.example.com"
"""


@pytest.mark.parametrize(
    "extra,key,words",
    [
        ("[router]\nnope = 1", None, "invalid TOML"),  # TOML itself refuses a second [router]
        ('[orgs."a.com"]\nmigrated = "yes"', 'orgs."a.com".migrated', "true or false"),
        ('[orgs."a.com"]\ncolour = "red"', 'orgs."a.com".colour', "unknown key"),
        (
            '[orgs."a.com"]\ndomains = ["x.com"]\n[orgs."b.com"]\ndomains = ["X.com"]',
            'orgs."b.com".domains',
            "already claimed",
        ),
        ('[orgs."a.com"]\n[orgs."b.com"]\ndomains = ["a.com"]', 'orgs."b.com".domains', "already claimed"),
        (
            '[orgs."a.com"]\nidp_entity_ids = ["e"]\n[orgs."b.com"]\nidp_entity_ids = ["e"]',
            'orgs."b.com".idp_entity_ids',
            "already claimed",
        ),
        (
            '[orgs."a.com"]\noidc_issuers = ["i"]\n[orgs."b.com"]\noidc_issuers = ["i"]',
            'orgs."b.com".oidc_issuers',
            "already claimed",
        ),
        (
            '[orgs."a.com"]\nconnections = ["c"]\n[orgs."b.com"]\nconnections = ["c"]',
            'orgs."b.com".connections',
            "already claimed",
        ),
        ('[orgs."a.com"]\norg_ids = ["o"]\n[orgs."b.com"]\norg_ids = ["o"]', 'orgs."b.com".org_ids', "already claimed"),
        (
            '[orgs."a.com"]\nclient_ids = ["c"]\n[orgs."b.com"]\nclient_ids = ["c"]',
            'orgs."b.com".client_ids',
            "already claimed",
        ),
        ('[providers.third]\nupstream = "ftp://x"', "providers.third.upstream", "bad URL"),
        ('[providers.third]\nupstream = "https://x/path"', "providers.third.upstream", "no path"),
        ('[providers.third]\nupstream = "https://x"\nkind = "okta"', "providers.third.kind", "unknown kind"),
        (
            '[providers.third]\nupstream = "https://x"\npaths = ["/keys"]\n[providers.fourth]\nupstream = "https://y"\npaths = ["/keys/"]',
            "providers.fourth.paths",
            "already claimed",
        ),
        ('[providers.third]\nupstream = "https://x"\npaths = ["keys"]', "providers.third.paths[0]", "start with"),
        ('[orgs."a.com"]\ntarget_paths = { "/a" = 3 }', 'orgs."a.com".target_paths./a', "want"),
        ('[orgs."a.com"]\ntest_users = "x@a.com"', 'orgs."a.com".test_users', "list"),
    ],
)
def test_invalid_mapping_names_the_key(extra, key, words):
    with pytest.raises(MappingError) as e:
        load_mapping((BASE + extra).encode())
    assert words in str(e.value)
    if key:
        assert e.value.key == key, str(e.value)


@pytest.mark.parametrize(
    "router,key",
    [
        ('default_provider = "auth0"', "router.default_provider"),
        ('migration_target = "sk"', "router.migration_target"),
        ("correlation_ttl = 0", "router.correlation_ttl"),
        ('debug_headers = "yes"', "router.debug_headers"),
        ("shadow = 1", "router.shadow"),
        ("limits = { max_body = -1 }", "router.limits.max_body"),
        ("limits = { max_bodies = 1 }", "router.limits.max_bodies"),
        ('public_url = "auth.example.com"', "router.public_url"),
    ],
)
def test_invalid_router_settings(router, key):
    text = BASE.replace(
        '[router]\npublic_url = "https://auth.example.com"',
        f'[router]\npublic_url = "https://a.example.com"\n{router}'
        if not router.startswith("public_url")
        else f"[router]\n{router}",
    )
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
    m = load_mapping(
        (BASE + '[orgs."newco.com"]\ndomains = ["newco.io"]\nconnections = ["newco.io"]\norg_ids=["newco.io"]').encode()
    )
    assert m.by_connection["newco.io"] == m.by_domain["newco.io"] == "newco.com"


def test_hosts_are_case_insensitive_and_portless():
    m = load_mapping(
        BASE.replace(
            'public_url = "https://auth.example.com"',
            'public_url = "https://Auth.Example.com:8443"\nhosts = ["Other.Example.com:9000", "localhost"]',
        ).encode()
    )
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


# -- the streamed path for big mappings: what it builds is what the TOML says ------------------------
# The expected mapping is read from the document by the standard library's tomllib and the contract's
# rules (keys and domains case-insensitive, every identifier indexed to its org), not by the loader.


def _big(n: int, *, extra: str = "", scalekit_last: bool = False) -> bytes:
    head = (
        '[router]\npublic_url = "https://auth.example.com"\nhosts = ["localhost"]\n'
        '[providers.legacy]\nupstream = "https://legacy.example.com"\n'
    )
    sk = '[providers.scalekit]\nupstream = "https://sk.example.com"\n'
    if not scalekit_last:
        head, sk = head + sk, ""
    orgs = "".join(
        f'[orgs."org{i}.com"]  # org {i}\nmigrated = {"true" if i % 3 == 0 else "false"}\n'
        f'domains = [\n  "org{i}.io",\n  "Org{i}.NET",\n]\nidp_entity_ids = ["http://idp/{i}"]\n'
        f"connections = ['conn_{i}']\n" + (f'target_paths = {{ "/a" = "/b/{i}" }}\n' if i % 7 == 0 else "")
        for i in range(n)
    )
    return (head + orgs + sk + extra).encode()


@pytest.fixture
def streamed(monkeypatch):
    """Every document takes the streamed path, cut into chunks of ``streamed(chunk)`` bytes."""
    import routing.mapping_loader as ml

    def cut(chunk: int = 700) -> None:
        monkeypatch.setattr(ml, "STREAM_ABOVE", 0)
        monkeypatch.setattr(ml, "CHUNK_BYTES", chunk)

    cut()
    return cut


def toml_says(data: bytes) -> dict:
    """The orgs, indexes and settings the contract derives from ``data``, via tomllib."""
    doc = tomllib.loads(data.decode())
    orgs = doc.get("orgs", {})
    by_domain, by_connection, by_entity_id = {}, {}, {}
    for key, body in orgs.items():
        by_domain[key.lower()] = key
        by_domain.update({d.lower(): key for d in body.get("domains", ())})
        by_connection.update({c: key for c in body.get("connections", ())})
        by_entity_id.update({e: key for e in body.get("idp_entity_ids", ())})
    router = doc["router"]
    return {
        "orgs": {
            k: (
                b.get("migrated", False),
                sorted(d.lower() for d in b.get("domains", ())),
                tuple(b.get("idp_entity_ids", ())),
                tuple(b.get("connections", ())),
                dict(b.get("target_paths", {})),
            )
            for k, b in orgs.items()
        },
        "by_domain": by_domain,
        "by_connection": by_connection,
        "by_entity_id": by_entity_id,
        "providers": sorted(doc["providers"]),
        "router": (
            router["public_url"],
            router.get("shadow", False),
            router.get("limits", {}).get("max_body", Limits().max_body),
        ),
    }


def loader_built(m) -> dict:
    return {
        "orgs": {
            k: (o.migrated, sorted(d.lower() for d in o.domains), o.idp_entity_ids, o.connections, dict(o.target_paths))
            for k, o in m.orgs.items()
        },
        "by_domain": {k: v for k, v in m.by_domain.items() if k != "localhost"},
        "by_connection": dict(m.by_connection),
        "by_entity_id": dict(m.by_entity_id),
        "providers": sorted(m.providers),
        "router": (m.settings.public_url, m.settings.shadow, m.settings.limits.max_body),
    }


def test_chunks_cut_only_before_table_headers():
    from routing.mapping_loader.toml import chunks

    text = _big(30).decode() + "[[odd]]\nx = 1\n"
    pieces = list(chunks(text, 300))
    assert "".join(pieces) == text and len(pieces) > 10
    assert all(p.startswith("[") and not p.startswith("[[") for p in pieces[1:])


def test_streamed_builds_what_the_toml_says(streamed):
    data = _big(53)
    assert loader_built(load_mapping(data)) == toml_says(data)


def test_a_big_file_takes_the_streamed_path_without_help():
    """No knob turned: a mapping over a megabyte (7,000 orgs) takes the streamed path and reads right."""
    data = _big(7000)
    assert len(data) > 1 << 20
    assert loader_built(load_mapping(data)) == toml_says(data)


@pytest.mark.parametrize(
    "extra",
    [
        '[orgs."org1.com".target_paths]\n"/x" = "/y"\n',  # one org's tables in two chunks
        "[router.limits]\nmax_body = 10\n",  # a sub-table of [router] in another chunk
        "[router]\n",  # an empty [router] again: TOML refuses a table defined twice
    ],
    ids=["org-subtable-far-away", "router-subtable-far-away", "router-twice"],
)
def test_tables_split_across_chunks_build_what_the_toml_says(streamed, extra):
    data = _big(12, extra=extra)
    try:
        want = toml_says(data)
    except tomllib.TOMLDecodeError:
        with pytest.raises(MappingError, match="invalid TOML"):
            load_mapping(data)
        return
    assert loader_built(load_mapping(data)) == want


@pytest.mark.parametrize(
    "extra, header",
    [
        ('[orgs."org2.com"]\nmigrated = true\n', '[orgs."org2.com"]'),  # an org defined twice
        ("[router]\nshadow = true\n", "[router]"),  # [router] defined twice
    ],
)
def test_a_table_defined_twice_is_refused_naming_its_line(streamed, extra, header):
    data = _big(12, extra=extra)
    with pytest.raises(tomllib.TOMLDecodeError):
        tomllib.loads(data.decode())
    line = max(i for i, text in enumerate(data.decode().splitlines(), 1) if text.startswith(header))
    with pytest.raises(MappingError) as e:
        load_mapping(data)
    assert "invalid TOML" in str(e.value) and f"line {line}" in str(e.value), str(e.value)


def test_streamed_error_is_worded_with_its_line(streamed):
    data = _big(20).replace(
        b'[orgs."org13.com"]  # org 13\nmigrated = false', b'[orgs."org13.com"]  # org 13\nmigrated = "no"'
    )
    with pytest.raises(MappingError) as e:
        load_mapping(data)
    assert e.value.key == 'orgs."org13.com".migrated'
    assert e.value.line == data.decode().splitlines().index('migrated = "no"') + 1


def test_providers_after_the_orgs_build_what_the_toml_says(streamed):
    data = _big(12, scalekit_last=True)
    assert loader_built(load_mapping(data)) == toml_says(data)


@pytest.mark.parametrize("chunk", [1, 40, 80, 120, 160, 200, 400])
def test_a_header_like_line_inside_a_multiline_string_is_not_a_table(streamed, chunk):
    streamed(chunk)
    data = _big(6).replace(
        b'hosts = ["localhost"]',
        b'hosts = ["localhost"]\nforce_header_secret = """\n[orgs."fake.com"]\nmigrated = true\n"""',
    )
    got = load_mapping(data)
    assert "fake.com" not in got.orgs and got.settings.force_header_secret.startswith('[orgs."fake.com"]')
    assert loader_built(got) == toml_says(data)


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
