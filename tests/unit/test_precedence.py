"""The precedence table is the one statement of the order: find_org follows it, the SAML-head
shortcut is derived from it, and the README shows it (this test fails when they drift)."""

from __future__ import annotations

import pathlib

import pytest

from routing import decide, precedence
from routing.extract.clues import Clues
from routing.mapping_loader import load_mapping
from routing.precedence import RULES

README = pathlib.Path(__file__).resolve().parents[2] / "README.md"

# one org per rule, each claiming the value that rule reads (keyed by rule index)
VALUES = {
    "test_user": "it-admin@org{i}.test",
    "connection": "conn-{i}",
    "domain": "org{i}.test",
    "org_id": "org_id_{i}",
    "entity_id": "https://idp{i}.test/",
    "issuer": "https://oidc{i}.test",
    "client_id": "client-{i}",
    "directory": "directory_{i}",
    "scim_token": "{i:064x}",
}
FIELD_OF = {
    "test_user": "test_users",
    "connection": "connections",
    "domain": "domains",
    "org_id": "org_ids",
    "entity_id": "idp_entity_ids",
    "issuer": "oidc_issuers",
    "client_id": "client_ids",
    "directory": "directories",
    "scim_token": "scim_token_sha256",
}


def clue_value(i: int, rule: precedence.Rule) -> str:
    index = rule.lookups[0].index
    if rule.clues == "emails":  # an email: its whole for test users, its domain for the last rule
        return f"it-admin@org{i}.test" if index == "test_user" else f"someone@org{i}.test"
    return VALUES[index].format(i=i)


def mapping_for_all_rules() -> bytes:
    lines = [
        '[router]\npublic_url = "https://auth.test"\n',
        '[providers.legacy]\nupstream = "https://l.test"\n',
        '[providers.scalekit]\nupstream = "https://s.test"\n',
    ]
    for i, rule in enumerate(RULES):
        index = rule.lookups[0].index
        value = clue_value(i, rule)
        lines.append(f'[orgs."org{i}.test"]')
        if index not in ("domain",):  # the org key is its domain already
            lines.append(f'{FIELD_OF[index]} = ["{value}"]')
    return "\n".join(lines).encode()


M = load_mapping(mapping_for_all_rules())


def test_the_readme_shows_the_table_the_code_follows():
    assert precedence.markdown_table() in README.read_text(), "README's precedence table drifted from RULES"


def test_find_orgs_docstring_is_the_table():
    for rule in RULES:
        assert rule.identifier.replace("`", "``") in decide.find_org.__doc__


@pytest.mark.parametrize("hi", range(len(RULES)), ids=[r.clues for r in RULES])
def test_each_rule_beats_every_rule_below_it(hi):
    """Each row of the table against each row below it: two clues naming different orgs in one
    request, the higher row's org wins and the record names its clue."""
    for lo in range(hi + 1, len(RULES)):
        clues = Clues()
        for i in (lo, hi):  # the lower rule's clue first, so list order cannot decide
            getattr(clues, RULES[i].clues).append((f"rule {i}", clue_value(i, RULES[i])))
        hit = decide.find_org(clues, M)
        assert hit is not None and hit.org == f"org{hi}.test", (hi, lo, hit)


def test_the_head_shortcut_follows_the_table():
    """A mapped Issuer settles the org only when nothing a Response head lacks can outrank it."""
    assert precedence.head_suffices(lambda index: {}) is True
    assert precedence.head_suffices(lambda index: {"x": "y"} if index == "test_user" else {}) is False
    assert precedence.head_suffices(lambda index: {"x": "y"} if index == "client_id" else {}) is True
