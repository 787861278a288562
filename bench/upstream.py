"""The bench's upstream: one nginx answering the paths the bench sends as the providers would.

* ``/u/login?state=…`` — a hosted-login page (Auth0 Universal Login): ~250 KB of HTML, most of it
  inline CSS ahead of the login form with its hidden ``state``, served as a static file.
* ``/oauth/token`` with ``X-Bench-Answer: tokens`` — a token exchange answer: JSON with an RS256
  access token, an RS256 ID token (both really signed) and an opaque refresh token that carries
  nginx's ``$request_id``, so every answer teaches the router a new value (it remembers all three).
* ``/bench/hosted-login-start?state=…`` — ``302 /u/login?state=…``, as Auth0's ``/authorize``
  answers: how the router learns the hosted-page states before a run (``seed_hosted_states``).
* anything else — ``200 ok``.
"""

from __future__ import annotations

import base64
import http.client
import json
import os
import random
import string
import time

import fixtures as F

HOSTED_PATH = "/u/login"
SEED_PATH = "/bench/hosted-login-start"
ANSWER_HEADER = "X-Bench-Answer"  # "tokens": /oauth/token answers with tokens (else: 200 ok)
HOSTED_PAGE_BYTES = 250_000
N_STATES = 256  # hosted-page states learnt before a run; the load cycles over them
ISSUER = f"https://{F.TENANT}.us.auth0.com/"
SPA_CLIENT = "AbCdEfGhIjKlMnOpQrStUvWxYz012345"

NGINX_CONF = """\
worker_processes 1;
master_process off;
daemon off;
pid {w}/nginx.pid;
error_log {w}/nginx-error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    keepalive_requests 10000000;
    keepalive_timeout 300s;
    client_max_body_size 4m;
    client_body_buffer_size 64k;
    client_body_temp_path {w}/nginx-body;
    server {{
        listen 127.0.0.1:{port};
        default_type text/plain;
        location / {{ return 200 "ok\\n"; }}
        location = {hosted} {{
            types {{ }}
            default_type "text/html; charset=utf-8";
            add_header Cache-Control "no-store, max-age=0";
            alias {w}/hosted-login.html;
        }}
        location = {seed} {{
            absolute_redirect off;
            return 302 "{hosted}?state=$arg_state";
        }}
        location = /oauth/token {{
            if ($http_x_bench_answer = "tokens") {{ rewrite ^ /bench/token-answer last; }}
            return 200 "ok\\n";
        }}
        location = /bench/token-answer {{
            internal;
            default_type "application/json; charset=utf-8";
            add_header Cache-Control "no-store";
            add_header Pragma "no-cache";
            return 200 '{tokens}';
        }}
    }}
}}
"""


def nginx_conf(w: str, port: int) -> str:
    return NGINX_CONF.format(w=w, port=port, hosted=HOSTED_PATH, seed=SEED_PATH, tokens=token_answer(w))


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _jwt(claims: dict, w: str) -> str:
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import padding

    key_path, _ = F._keypair(w)
    with open(key_path, "rb") as f:
        key = serialization.load_pem_private_key(f.read(), None)
    head = _b64(json.dumps({"alg": "RS256", "typ": "JWT", "kid": "bench-key-2026"}).encode())
    body = _b64(json.dumps(claims, separators=(",", ":")).encode())
    sig = key.sign(f"{head}.{body}".encode(), padding.PKCS1v15(), hashes.SHA256())  # type: ignore[union-attr]
    return f"{head}.{body}.{_b64(sig)}"


def token_answer(w: str) -> str:
    """The token endpoint's JSON (nginx interpolates ``${request_id}``), as Auth0 answers an
    authorization-code exchange with ``offline_access`` and an API audience."""
    now = int(time.time())
    sub = "samlp|org42-saml|jane.doe42@org42.example"
    access = _jwt(
        {
            "iss": ISSUER,
            "sub": sub,
            "aud": ["https://api.yourapp.com", f"{ISSUER}userinfo"],
            "iat": now,
            "exp": now + 86400,
            "scope": "openid profile email offline_access",
            "azp": SPA_CLIENT,
            "org_id": "org_42",
            "permissions": ["read:reports", "write:reports"],
        },
        w,
    )
    ident = _jwt(
        {
            "iss": ISSUER,
            "sub": sub,
            "aud": SPA_CLIENT,
            "iat": now,
            "exp": now + 36000,
            "nonce": "n-0S6_WzA2Mj",
            "sid": "k0pLq1yZ8xG3b7hN2mR4tV6wQ9eJ5cA",
            "org_id": "org_42",
            "email": "jane.doe42@org42.example",
            "email_verified": True,
            "name": "Jane Doe 42",
            "nickname": "jane.doe42",
            "picture": "https://s.gravatar.com/avatar/0f3c?s=480&r=pg&d=mp",
            "updated_at": "2026-11-23T14:05:00.000Z",
        },
        w,
    )
    body = json.dumps(
        {
            "access_token": access,
            "id_token": ident,
            "scope": "openid profile email offline_access",
            "expires_in": 86400,
            "token_type": "Bearer",
        },
        separators=(",", ":"),
    )
    refresh = '"refresh_token":"v1.MRrT2x9bQ${request_id}Kp4sWq7LzN8vYc3hJ0aDfG5uE1iO6tXbR2mZ"'
    out = body[:-1] + "," + refresh + "}"
    assert "'" not in out and "\\" not in out  # it goes into a single-quoted nginx string
    return out


def hosted_states() -> list[str]:
    """Auth0-shaped hosted-page states (``hKFo2SB…``, base64url of a msgpack transaction)."""
    rng = random.Random(13)
    alphabet = string.ascii_letters + string.digits + "-_"
    return ["hKFo2SB" + "".join(rng.choice(alphabet) for _ in range(164)) for _ in range(N_STATES)]


def _fill(make, budget: int) -> str:
    """``make()`` pieces joined until they reach ``budget`` characters."""
    out, n = [], 0
    while n < budget:
        out.append(make())
        n += len(out[-1])
    return "".join(out)


class _Names:
    """Hashed names, as a CSS-in-JS build emits them; seeded, so every run serves the same page."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)

    def hex(self, n: int = 8) -> str:
        return "".join(self.rng.choice("0123456789abcdef") for _ in range(n))

    def cls(self) -> str:
        return "c" + self.hex()


def _page_head(nm: _Names, size: int) -> str:
    """<head>: ~45% of ``size`` inline stylesheet, ~15% inline scripts."""
    props = (
        "color:#1e212a",
        "margin:0 0 16px",
        "padding:4px 16px",
        "border:1px solid #c9cace",
        "border-radius:3px",
        "font-size:16px",
        "line-height:1.5",
        "display:flex",
        "align-items:center",
        "background-color:#fff",
        "transition:box-shadow .2s ease-in-out",
        "width:100%",
    )
    config = {
        "clientID": SPA_CLIENT,
        "domain": f"{F.TENANT}.us.auth0.com",
        "locale": "en",
        "prompt": "login-id",
        "screen": "login-id",
        "captcha": None,
        "colors": {"primary": "#635dff"},
    }
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1"><meta name="robots" '
        'content="noindex, nofollow"><link rel="icon" href="https://cdn.auth0.com/favicon.png">'
        f"<title>Log in | {F.TENANT}</title><style>"
        + _fill(lambda: f".{nm.cls()} .{nm.cls()}{{{';'.join(nm.rng.sample(props, 4))}}}", int(size * 0.45))
        + f"</style><script>window.__ULP_CONFIG__ = {json.dumps(config)};</script><script>"
        + _fill(
            lambda: (
                f"function f{nm.hex()}(e,t){{var n=e.querySelector('.{nm.cls()}');if(!n)return t;"
                f"n.classList.toggle('{nm.cls()}',!!t);return n.dataset.{nm.cls()}||t}}"
            ),
            int(size * 0.15),
        )
        + "</script></head>"
    )


def _login_forms(nm: _Names, state: str) -> str:
    """The prompt box: the identifier form (hidden state), a social-login form, a country-code list."""
    c = nm.cls
    return (
        f'<main class="_widget login-id"><section class="{c()} _prompt-box-outer"><div class="{c()}">'
        f'<header class="{c()}"><h1 class="{c()}">Welcome</h1><p class="{c()}">Log in to {F.TENANT} to '
        f'continue.</p></header><form method="POST" class="{c()} _form-login-id" data-form-primary="true">'
        f'<input type="hidden" name="state" value="{state}"><div class="{c()}"><label class="{c()}" '
        f'for="username">Email address*</label><input class="input {c()}" inputmode="email" name="username" '
        'id="username" type="text" value="" required autocomplete="email" autocapitalize="none" '
        'spellcheck="false" autofocus></div><input type="hidden" id="js-available" name="js-available" '
        f'value="false"><button type="submit" name="action" value="default" class="{c()}" '
        'data-action-button-primary="true">Continue</button></form>'
        f'<form method="post" data-provider="google" class="{c()}" data-form-secondary="true">'
        f'<input type="hidden" name="state" value="{state}"><input type="hidden" name="connection" '
        f'value="google-oauth2"><button type="submit" class="{c()}">Continue with Google</button></form>'
        f'<select class="{c()}" name="country-code" hidden>'
        + "".join(f'<option value="A{k}" data-dial="+{k}">Country A{k} (+{k})</option>' for k in range(1, 241))
        + "</select></div></section></main>"
    )


def hosted_login_page(state: str, size: int = HOSTED_PAGE_BYTES) -> bytes:
    """A Universal-Login-shaped page of exactly ``size`` bytes, in the order such a page has them:
    ~45% inline stylesheet, ~15% inline scripts (config and runtime), then markup: an SVG icon
    sprite, the identifier and social-login forms, a phone country-code list, and footer links
    padding it to ``size``. About 2,400 elements: an HTML parser has real work here, not one long
    <style> to skip."""
    nm = _Names(7)
    r = nm.rng
    head = _page_head(nm, size)
    sprite = (
        '<body class="_widget-auto-layout"><svg xmlns="http://www.w3.org/2000/svg" style="display:none">'
        + "".join(
            f'<symbol id="i-{nm.hex(6)}" viewBox="0 0 24 24"><path d="M{r.randint(1, 23)} '
            f'{r.randint(1, 23)}l{r.randint(1, 9)} {r.randint(1, 9)}h-{r.randint(1, 9)}z"/></symbol>'
            for _ in range(120)
        )
        + "</svg>"
    )
    forms = _login_forms(nm, state)
    foot = '<script>document.getElementById("js-available").value="true";</script></body></html>'
    links = _fill(
        lambda: (
            f'<div class="{nm.cls()}"><a class="{nm.cls()}" href="/u/help/{nm.hex(6)}">'
            f'<span class="{nm.cls()}">Help {nm.hex(4)}</span></a></div>'
        ),
        size - len(head) - len(sprite) - len(forms) - len(foot) - 200,
    )
    page = head + sprite + forms + links + foot
    page = page.replace("</body>", "<!--" + "x" * (size - len(page) - 7) + "--></body>", 1)
    data = page.encode()
    assert len(data) == size, len(data)
    return data


def write_inputs(w: str) -> list[str]:
    """The hosted page (served by nginx) and the states file (read by wrk); returns the states."""
    states = hosted_states()
    with open(os.path.join(w, "hosted-login.html"), "wb") as f:
        f.write(hosted_login_page(states[0]))
    with open(os.path.join(w, "hosted-states.txt"), "w") as f:
        f.write("\n".join(states) + "\n")
    return states


def seed_hosted_states(port: int, states: list[str]) -> None:
    """Each state as the router meets it in a real login: in the Location of the provider's answer
    to a login start, for one org each (login_hint), so each later hosted-page GET is decided by
    correlation, not by default."""
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        for k, st in enumerate(states):
            c.request(
                "GET",
                f"{SEED_PATH}?login_hint=jane.doe{k}%40org{k}.example&state={st}",
                headers={**F.BROWSER_HEADERS, "Host": F.PUBLIC_HOST},
            )
            r = c.getresponse()
            r.read()
            if r.status != 302 or not (r.getheader("location") or "").endswith(f"state={st}"):
                raise SystemExit(f"bench: seeding a hosted-page state: {r.status} {r.getheader('location')}")
    finally:
        c.close()


def prepare(kind: str, port: int) -> None:
    """What the proxy on ``port`` must have learnt before a run of ``kind`` (both arms alike)."""
    if kind == "hosted_page":
        seed_hosted_states(port, hosted_states())
