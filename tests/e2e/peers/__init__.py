"""Real local peers for the end-to-end tests: a SAML IdP, an OIDC IdP and two SSO providers.

Each peer is a small HTTP server on 127.0.0.1 that validates what it receives, so a
message the router sends to the wrong place fails at the peer, visibly, with a reason.
"""
