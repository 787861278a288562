"""``sso-router demo``: the router between a demo app, two providers and two customer IdPs, on 127.0.0.1.

Everything but the router runs in the demo's own process, each peer a small HTTP server on a port
of its own; the router is the real ``mitmdump -s sso_router_addon.py``, run as a subprocess on a
generated mapping that ``sso-router migrate`` edits. Modules, one job each:

- ``web``      the threaded HTTP server every peer runs on (request parsing, HTML helpers)
- ``keys``     the IdPs' signing keys and self-signed certificates
- ``saml``     SAML messages: AuthnRequests (HTTP-Redirect), signed Responses (signxml), their checks
- ``idp``      one SAML IdP per customer org, signing what it answers
- ``provider`` the legacy provider and the Scalekit stand-in, each accepting only what it issued
- ``trail``    the router's decisions for one login, read from its decision log and put in words
- ``pages``    the app's HTML
- ``app``      the SaaS app: login buttons, the OAuth callback, the flip button
- ``orgs``     the two example orgs: user, IdP, connection ids
- ``mapping``  the demo's mapping file
- ``router``   the mitmdump subprocess: port, start, ready, stop by PID
- ``run``      wires the above together, prints the URL, stops everything on Ctrl-C
"""
