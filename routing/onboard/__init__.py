"""Onboarding a migration: ``sso-router import`` (the legacy provider's export → ``[orgs]``) and
``sso-router learn`` (what exports lack, from the decision log or a running router).

- ``drafts``: what one provider's export says about one customer (``OrgDraft``), what it leaves out.
- ``auth0``, ``workos``, ``cognito``, ``firebase``: one reader per provider's API responses.
- ``metadata``: a SAML metadata document's IdP entity id (hardened parser; fetched only on request).
- ``plan``: drafts against the current mapping → new orgs, additions, conflicts, unkeyed orgs.
- ``merge``: a plan written into the mapping text with tomlkit (comments and layout kept).
- ``evidence``, ``learn``: what the router saw, and the additions it supports.
- ``api``: the same exports read live through the providers' SDKs (``--from-api``).
"""
