"""Where each provider kind answers a login, and what its answers look like: one table, from the
providers' public documentation (the URLs below; tests/fixtures/outcomes/README.md cites them per
case). ``classify`` reads the protocol shapes every provider shares (RFC 6749, OIDC Core, SAML
HTTP-POST); this table adds what differs per kind.

Shared by all kinds (the protocols):

- RFC 6749 §4.1.2 / §4.1.2.1 — the redirect to the client carries ``code`` on success and ``error``
  (``error_description``, ``state``) on failure: https://www.rfc-editor.org/rfc/rfc6749#section-4.1.2.1
- RFC 6749 §5.1 / §5.2 — a token response is 200 JSON on success; 400 (401 for ``invalid_client``)
  JSON ``{"error": "invalid_grant", ...}`` on failure: https://www.rfc-editor.org/rfc/rfc6749#section-5.2
- OIDC Core §3.1.2.6 — ``login_required``, ``interaction_required``, ``consent_required``,
  ``account_selection_required`` answer a ``prompt=none`` request: no login was attempted, so they
  are no failure: https://openid.net/specs/openid-connect-core-1_0.html#AuthError
- SAML 2.0 HTTP-POST binding: the IdP posts ``SAMLResponse`` to the provider's ACS (any path).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, NamedTuple

HtmlAnswer = Literal["error_page", "handler", "unknown"]


@dataclass(frozen=True, slots=True)
class Shapes:
    """One provider kind. Path patterns: ``*`` matches one path segment; a trailing ``/`` a prefix."""

    kind: str
    acs: tuple[str, ...]  # where IdPs post SAML Responses (documentation: any SAMLResponse POST is an ACS post)
    callbacks: tuple[str, ...]  # where OIDC IdPs send the browser back (code/error + state)
    continuations: tuple[str, ...]  # the provider's own steps after the callback, which may redirect to the app
    token: tuple[str, ...]  # token exchanges that carry no OAuth grant_type
    html_answer: HtmlAnswer  # a 200 HTML answer to an ACS post / IdP callback that is no auto-post form
    docs: tuple[str, ...]


SHAPES: dict[str, Shapes] = {
    s.kind: s
    for s in (
        Shapes(
            "auth0",
            acs=("/login/callback",),
            callbacks=("/login/callback",),
            # /login/callback answers with a redirect to /authorize/resume?state= (its own host); that step,
            # or an Action's /continue, then redirects to the app with code= or error=
            continuations=("/authorize/resume", "/continue", "/u/"),
            token=(),
            # an error it cannot send to the callback is shown on its generic error page
            html_answer="error_page",
            docs=(
                "https://auth0.com/docs/authenticate/identity-providers/enterprise-identity-providers/saml",
                "https://auth0.com/docs/hosted-pages/error-pages",
                "https://auth0.com/docs/api/authentication#standard-error-responses",
            ),
        ),
        Shapes(
            "workos",
            acs=("/sso/saml/acs/*",),
            callbacks=("/sso/oidc/callback", "/sso/oidc/callback/*"),
            continuations=(),
            token=(),  # POST /sso/token and /user_management/authenticate carry grant_type (JSON or form)
            html_answer="error_page",
            docs=(
                "https://workos.com/docs/reference/sso/redirect-uri",
                "https://workos.com/docs/reference/authkit/authentication/get-authorization-url",
                "https://workos.com/docs/reference/sso/profile",
            ),
        ),
        Shapes(
            "cognito",
            acs=("/saml2/idpresponse",),
            callbacks=("/oauth2/idpresponse",),
            continuations=(),
            token=(),  # POST /oauth2/token carries grant_type
            # "Amazon Cognito displays an error in managed login" (or redirects with error= to the callback)
            html_answer="error_page",
            docs=(
                "https://docs.aws.amazon.com/cognito/latest/developerguide/federation-endpoint-idp-responses.html",
                "https://docs.aws.amazon.com/cognito/latest/developerguide/cognito-user-pools-saml-idp-things-to-know.html",
                "https://docs.aws.amazon.com/cognito/latest/developerguide/token-endpoint.html",
            ),
        ),
        Shapes(
            "firebase",
            acs=("/__/auth/handler",),
            callbacks=("/__/auth/handler",),
            continuations=(),
            # the SDK's handler page posts what the IdP sent to accounts:signInWithIdp: 200 JSON with idToken,
            # or 400 JSON {"error": {"message": "INVALID_IDP_RESPONSE : ..."}}
            token=("/v1/accounts:signInWithIdp", "/v2/accounts:signInWithIdp"),
            html_answer="handler",  # /__/auth/handler answers every IdP post with its JS page: no outcome yet
            docs=(
                "https://firebase.google.com/docs/auth/web/saml",
                "https://cloud.google.com/identity-platform/docs/reference/rest/v1/accounts/signInWithIdp",
                "https://firebase.google.com/docs/reference/rest/auth#section-sign-in-with-oauth-credential",
            ),
        ),
        Shapes(
            "scalekit",
            acs=("/sso/v1/saml/*/acs",),
            callbacks=("/sso/v1/oidc/*/callback",),
            continuations=(),
            token=(),  # POST /oauth/token carries grant_type
            # "any issues encountered will result in error details being sent to your application's
            # redirect URI via the error and error_description query parameters"
            html_answer="error_page",
            docs=(
                "https://docs.scalekit.com/reference/sso/sso-integration-errors",
                "https://docs.scalekit.com/guides/dashboard/redirects",
            ),
        ),
        Shapes(
            "generic",
            acs=(),
            callbacks=(),
            continuations=(),
            token=(),
            html_answer="unknown",  # nothing known about its pages: a 200 page is no outcome
            docs=(
                "https://www.rfc-editor.org/rfc/rfc6749#section-4.1.2.1",
                "https://www.rfc-editor.org/rfc/rfc6749#section-5.2",
            ),
        ),
    )
}


def shapes_for(kind: str) -> Shapes:
    return SHAPES.get(kind, SHAPES["generic"])


def path_matches(patterns: tuple[str, ...], path: str) -> bool:
    for pattern in patterns:
        if pattern.endswith("/"):
            if path.startswith(pattern):
                return True
        elif "*" not in pattern:
            if path == pattern:
                return True
        else:
            want, got = pattern.split("/"), path.split("/")
            if len(want) == len(got) and all((w == "*" and g) or w == g for w, g in zip(want, got, strict=True)):
                return True
    return False


class Matchers(NamedTuple):
    """One kind's path patterns, compiled: each a ``path -> bool``."""

    token: Callable[[str], bool]
    callbacks: Callable[[str], bool]
    continuations: Callable[[str], bool]


def _compile(patterns: tuple[str, ...]) -> Callable[[str], bool]:
    """What ``path_matches(patterns, path)`` says, as one regex (exact paths: a set lookup first)."""
    exact = frozenset(p for p in patterns if not p.endswith("/") and "*" not in p)
    rest = [p for p in patterns if p not in exact]
    if not rest:
        return exact.__contains__
    rx = re.compile(
        "|".join(
            re.escape(p) + ".*"
            if p.endswith("/")
            else "/".join("[^/]+" if seg == "*" else re.escape(seg) for seg in p.split("/"))
            for p in rest
        ),
        re.S,
    )
    full = rx.fullmatch
    return lambda path: path in exact or full(path) is not None


MATCHERS: dict[str, Matchers] = {
    k: Matchers(_compile(s.token), _compile(s.callbacks), _compile(s.continuations)) for k, s in SHAPES.items()
}


def matchers_for(kind: str) -> Matchers:
    return MATCHERS.get(kind) or MATCHERS["generic"]
