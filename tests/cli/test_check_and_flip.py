import os
import stat

import pytest

from routing.errors import MappingError
from routing.mapping_edit import UnknownOrg, flip, set_migrated

from . import captures
from .conftest import run


def test_check_prints_orgs_per_provider(mapping):
    r = run("check", mapping)
    assert r.returncode == 0, r.stderr
    out = r.stdout
    assert "2 orgs, 2 providers" in out
    assert "[legacy]" in out and "[scalekit]" in out
    legacy = out.split("[legacy]")[1].split("[scalekit]")[0]
    line = next(ln for ln in legacy.splitlines() if ln.startswith("megasoft.com"))
    assert line.split()[:3] == ["megasoft.com", "no", "1"]  # migrated, test users
    assert "/keys" in out


def test_check_mapping_option_env_and_default(mapping, tmp_path):
    assert run("check", "--mapping", mapping).returncode == 0
    assert run("check", env={"SSO_ROUTER_MAPPING": str(mapping)}).returncode == 0
    assert run("check", cwd=mapping.parent).returncode == 0
    r = run("check", cwd=tmp_path / "..")
    assert r.returncode == 1 and "mapping.toml" in r.stderr


@pytest.mark.parametrize(
    "edit, key",
    [
        (('default_provider = "legacy"', 'default_provider = "nope"'), "router.default_provider"),
        (('domains = ["megasoft.io"]', 'domains = ["megasoft.io", "newcompany.com"]'), 'orgs."newcompany.com".domains'),
        (('kind = "auth0"', 'kind = "okta"'), "providers.legacy.kind"),
        (
            ('app_callback = "https://yourapp.com/auth/ext-provider/callback"', 'paths = ["/keys/"]'),
            "providers.scalekit.paths",
        ),
    ],
)
def test_check_names_the_key_of_an_error(mapping, edit, key):
    mapping.write_text(captures.MAPPING.replace(*edit))
    r = run("check", mapping)
    assert r.returncode == 1
    assert key in r.stderr and "line" in r.stderr
    assert r.stdout == ""


def test_help_on_every_command():
    for cmd in ("check", "explain", "migrate", "rollback", "redact"):
        r = run(cmd, "--help")
        assert r.returncode == 0 and "--mapping" in r.stdout, cmd
    assert run("--help").returncode == 0


def test_migrate_and_rollback_keep_everything_else_byte_for_byte(mapping):
    mapping.chmod(0o640)
    before = mapping.read_bytes()
    r = run("migrate", "megasoft.com", "--mapping", mapping)
    assert r.returncode == 0, r.stderr
    after = mapping.read_bytes()
    diff = [(a, b) for a, b in zip(before.splitlines(), after.splitlines(), strict=False) if a != b]
    assert diff == [
        (
            b"migrated = false     # flip with `sso-router migrate megasoft.com`",
            b"migrated = true     # flip with `sso-router migrate megasoft.com`",
        )
    ]
    assert len(before.splitlines()) == len(after.splitlines())
    assert stat.S_IMODE(os.stat(mapping).st_mode) == 0o640
    assert run("check", mapping).stdout.count("scalekit") >= 2
    assert run("rollback", "megasoft.com", "--mapping", mapping).returncode == 0
    assert mapping.read_bytes() == before
    r = run("rollback", "megasoft.com", "--mapping", mapping)
    assert r.returncode == 0 and "already" in r.stdout
    assert not [p for p in mapping.parent.iterdir() if p.name.startswith(".sso-router-")]


def test_migrate_unknown_org_exits_1_naming_it(mapping):
    before = mapping.read_bytes()
    r = run("migrate", "nosuch.com", "--mapping", mapping)
    assert r.returncode == 1 and "nosuch.com" in r.stderr
    assert mapping.read_bytes() == before


def test_migrate_refuses_an_invalid_result(mapping):
    bad = captures.MAPPING.replace("migrated = true", 'migrated = "yes"')
    mapping.write_text(bad)
    r = run("rollback", "newcompany.com", "--mapping", mapping)
    assert r.returncode == 1 and 'orgs."newcompany.com".migrated' in r.stderr
    bad = captures.MAPPING.replace('kind = "auth0"', 'kind = "okta"')  # invalid elsewhere
    mapping.write_text(bad)
    r = run("migrate", "megasoft.com", "--mapping", mapping)
    assert r.returncode == 1 and "providers.legacy.kind" in r.stderr
    assert mapping.read_text() == bad


def test_migrate_usage_errors():
    assert run("migrate").returncode == 2
    assert run("rollback", "a", "b").returncode == 2


def test_flip_directly(tmp_path):
    text = captures.MAPPING
    assert flip(text, "newcompany.com", True) == text
    with pytest.raises(UnknownOrg):
        flip(text, "x.com", True)
    added = flip(text.replace("migrated = true\n", ""), "newcompany.com", True)
    assert 'org_ids = ["org_01HNEWCO"]\nmigrated = true' in added
    p = tmp_path / "m.toml"
    p.write_text(
        text.replace(
            'test_users = ["it-admin@megasoft.com"]', 'test_users = ["it-admin@megasoft.com"]\nclient_ids = ["dup"]'
        )
    )
    with pytest.raises(MappingError):  # a duplicate key: not TOML
        set_migrated(str(p), "megasoft.com", True)
