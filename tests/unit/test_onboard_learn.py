"""What the core records for ``learn`` (``Seen`` on the decision, the decision-log fields), the
evidence it aggregates, what it proposes, and how ``import``'s plan joins and refuses drafts."""

from __future__ import annotations

import json

import pytest

from routing import endpoints, pipeline
from routing.audit import decision_record
from routing.extract.clues import Clues
from routing.mapping_loader import load_mapping
from routing.metrics import Metrics
from routing.model import NOTHING_SEEN, Decision, Reason, Seen
from routing.onboard.drafts import OrgDraft
from routing.onboard.evidence import Evidence, from_records
from routing.onboard.learn import as_plan, propose
from routing.onboard.plan import make_plan
from tests.unit.test_onboard_exports import EMPTY_MAPPING

M = load_mapping(
    EMPTY_MAPPING + b'\n[orgs."acme.com"]\nconnections = ["acme-saml"]\n'
    b'\n[orgs."globex.com"]\nidp_entity_ids = ["https://idp.globex.example/"]\n'
)


def test_seen_takes_the_issuer_a_posted_id_tokens_iss_and_connections_never_a_hint():
    c = Clues(
        entity_ids=[("SAML Issuer", "http://idp.acme.example/")],
        issuers=[("id_token_hint iss", "https://tenant.auth0.com/"), ("id_token iss", "https://acme.okta.com")],
        connections=[("connection", "acme-saml")],
        path_connections=[("path", "conn_1"), ("path", "conn_1")],
        saml_connections=[("Audience", "acme-saml"), ("Destination", "x" * 600)],
    )
    assert pipeline.seen_in(c) == Seen("http://idp.acme.example/", "https://acme.okta.com", ("acme-saml", "conn_1"))
    assert pipeline.seen_in(Clues(issuers=[("id_token_hint iss", "https://tenant.auth0.com/")])) is NOTHING_SEEN
    assert pipeline.seen_in(Clues(connections=[(str(i), f"c{i}") for i in range(9)])).connections == (
        "c0",
        "c1",
        "c2",
        "c3",
    )


def test_decision_record_writes_what_was_seen_only_when_present():
    d = Decision(
        "legacy",
        Reason.ORG,
        "acme.com",
        "connection",
        "legacy",
        False,
        Seen("http://idp.acme.example/", None, ("acme-saml",)),
    )
    rec = decision_record(
        d, flow_id="f", method="POST", host="h", path="/login/callback", at=1.0, status=302, latency_ms=1.0
    )
    assert rec["saml_issuer"] == "http://idp.acme.example/" and rec["connections"] == ["acme-saml"]
    assert "oidc_issuer" not in rec
    plain = decision_record(
        Decision("legacy", Reason.DEFAULT, None, "no identifier", "legacy"),
        flow_id="f",
        method="GET",
        host="h",
        path="/",
        at=1.0,
        status=200,
        latency_ms=None,
    )
    assert not {"saml_issuer", "oidc_issuer", "connections"} & plain.keys()


def rec(org, reason, issuer=None, conns=None, status=302, at=100.0, **kw):
    r = {"time": at, "reason": reason, "org": org, "status": status, **kw}
    if issuer:
        r["saml_issuer"] = issuer
    if conns:
        r["connections"] = conns
    return r


def test_evidence_counts_only_requests_something_named_an_org_for_and_the_provider_took():
    ev, bad = from_records(
        [
            rec("acme.com", "correlation", "http://idp.acme.example/", at=10),
            rec("acme.com", "org", "http://idp.acme.example/", ["acme-saml"], at=20),
            rec("acme.com", "sticky", "http://sticky.example/"),  # a cookie says nothing about the IdP
            rec(None, "default", "http://default.example/"),
            rec("acme.com", "org", "http://forged.example/", status=403),  # refused by the provider
            rec("acme.com", "org", "http://error.example/", status=None, error="connection refused"),
            "not a record",
            None,
        ]
    )
    assert bad == 2 and ev.requests == 2
    t = ev.seen[("idp_entity_ids", "http://idp.acme.example/")]["acme.com"]
    assert (t.count, t.first, t.last) == (2, 10, 20)
    assert set(ev.seen) == {("idp_entity_ids", "http://idp.acme.example/"), ("connections", "acme-saml")}


def test_evidence_is_bounded_and_survives_its_snapshot():
    ev = Evidence(max_values=3)
    for i in range(5):
        ev.add("connections", f"c{i}", "acme.com", float(i))
    assert len(ev.seen) == 3 and ev.dropped == 2
    ev.add("connections", "y" * 600, "acme.com", 1.0)
    assert len(ev.seen) == 3
    back = Evidence.from_snapshot(json.loads(json.dumps(ev.snapshot())))
    assert back.seen == ev.seen and back.dropped == 2
    with pytest.raises(ValueError):
        Evidence.from_snapshot({"evidence": [{"field": "client_ids", "value": "x", "orgs": {}}]})


def test_edge_hook_and_learn_endpoint():
    ev = Evidence()
    d = Decision(
        "legacy", Reason.CORRELATION, "acme.com", "SAML InResponseTo", "legacy", True, Seen("http://idp.acme.example/")
    )
    ev.add_decision(d, status=302, error=None, at=5.0)
    ev.add_decision(d, status=500, error=None, at=6.0)
    status, headers, body = endpoints.answer(
        "/.sso-router/learn",
        "GET",
        admitted=True,
        holder=None,
        store=endpoints.StoreStatus("memory://", True),
        m=Metrics(),
        version="0",
        evidence=ev,
    )
    assert (
        endpoints.answer(
            "/.sso-router/learn",
            "GET",
            admitted=False,
            holder=None,
            store=endpoints.StoreStatus("memory://", True),
            m=Metrics(),
            version="0",
            evidence=ev,
        )[0]
        == 404
    )  # admin-only, as health and metrics
    assert status == 200 and headers["cache-control"] == "no-store"
    got = json.loads(body)
    assert got["requests"] == 1
    assert got["evidence"] == [
        {
            "field": "idp_entity_ids",
            "value": "http://idp.acme.example/",
            "orgs": {"acme.com": {"count": 1, "first": 5.0, "last": 5.0}},
        }
    ]


def test_propose_only_what_one_org_was_seen_with_and_no_org_claims():
    ev, _ = from_records(
        [
            rec("acme.com", "correlation", "http://idp.acme.example/", ["acme-saml", "acme-conn-2"], at=10),
            rec("acme.com", "org", "http://idp.acme.example/", at=30),
            rec("acme.com", "org", "http://shared.example/"),
            rec("globex.com", "org", "http://shared.example/"),
            rec("acme.com", "org", "https://idp.globex.example/"),  # the mapping gives it to globex.com
            rec("gone.com", "org", "http://gone.example/"),
        ]
    )
    learned = propose(ev, M)
    assert [(p.org, p.field, p.value, p.count, p.first, p.last) for p in learned.proposals] == [
        ("acme.com", "connections", "acme-conn-2", 1, 10, 10),
        ("acme.com", "idp_entity_ids", "http://idp.acme.example/", 2, 10, 30),
    ]
    assert [(d.value, d.mapped_to, [o for o, _ in d.orgs]) for d in learned.disputed] == [
        ("http://shared.example/", None, ["acme.com", "globex.com"]),
        ("https://idp.globex.example/", "globex.com", ["acme.com"]),
    ]
    assert (learned.known, learned.gone) == (1, 1)  # acme-saml is mapped already; gone.com is not an org
    assert propose(ev, M, min_count=2).rare == 1
    plan = as_plan(learned)
    assert [(c.org, c.new, c.values) for c in plan.changes] == [
        ("acme.com", False, {"connections": ["acme-conn-2"], "idp_entity_ids": ["http://idp.acme.example/"]})
    ]


def draft(source, owner=None, **values):
    d = OrgDraft(source, owner=owner)
    for f, vals in values.items():
        d.add(f, *vals)
    d.name(source)
    return d


def test_plan_joins_drafts_of_one_domain_unless_two_owners_claim_it():
    plan = make_plan(
        M,
        [
            draft("a", domains=["Shared.io"], connections=["a"]),
            draft("b", domains=["shared.io", "b.io"], connections=["b"]),
            draft("o1", "org_1", domains=["x.io"], org_ids=["org_1"]),
            draft("o2", "org_2", domains=["x.io", "y.io"], org_ids=["org_2"]),
        ],
    )
    assert [(c.org, c.values) for c in plan.changes] == [
        ("shared.io", {"domains": ["b.io"], "connections": ["a", "b"]}),
        ("y.io", {"org_ids": ["org_2"]}),
    ]
    assert [d.names for d in plan.unkeyed] == [["o1"]]  # x.io went to neither
    assert [(c.field, c.value) for c in plan.conflicts] == [("domains", "x.io")]


def test_plan_merges_into_the_org_that_holds_a_connection_and_refuses_another_orgs_values():
    plan = make_plan(
        M,
        [
            draft(
                "acme",
                domains=["acme.io"],
                connections=["acme-saml", "acme-2"],
                idp_entity_ids=["https://idp.globex.example/"],
            )
        ],
    )
    assert [(c.org, c.new, c.values) for c in plan.changes] == [
        ("acme.com", False, {"domains": ["acme.io"], "connections": ["acme-2"]})
    ]
    assert [(c.field, c.value) for c in plan.conflicts] == [("idp_entity_ids", "https://idp.globex.example/")]
    # an entity id typed into another org does not pull a new customer into it
    plan = make_plan(M, [draft("newco", domains=["newco.io"], idp_entity_ids=["https://idp.globex.example/"])])
    assert [(c.org, c.new) for c in plan.changes] == [("newco.io", True)]
    assert len(plan.conflicts) == 1


def test_seen_is_false_when_nothing_was_seen():
    assert not NOTHING_SEEN and not Seen() and Seen(connections=("c",)) and Seen("http://idp/")
