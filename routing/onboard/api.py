"""``--from-api``: the same responses the file readers take, fetched live through the providers'
own SDKs (the ``import`` extra: ``auth0-python``, ``boto3``). Each function returns
``[(what, parsed JSON)]`` as ``drafts.load_json`` would for files; secrets (the Management API
token, AWS credentials) come from the environment and are never printed.

Auth0: every page of ``GET /api/v2/connections`` and ``GET /api/v2/organizations``, and per
organization its ``enabled_connections`` and ``discovery-domains`` (put into the organization
object, the shape ``auth0.read`` takes). Cognito: ``ListIdentityProviders`` (all pages), then
``DescribeIdentityProvider`` for each.
"""

from __future__ import annotations

import os
from typing import Any

from .drafts import JSONObject

Docs = list[tuple[str, Any]]
TIMEOUT = 30.0


class ApiError(RuntimeError):
    pass


def _dump(model: Any) -> JSONObject:
    """An SDK model (pydantic v2, else v1) as the JSON object the API sent."""
    out: JSONObject = (
        model.model_dump(mode="json", by_alias=True, exclude_none=True)
        if hasattr(model, "model_dump")
        else model.dict(by_alias=True, exclude_none=True)
    )
    return out


def auth0_docs(domain: str | None = None, *, timeout: float = TIMEOUT) -> Docs:
    """Env: ``AUTH0_DOMAIN``; ``AUTH0_API_TOKEN`` (or ``AUTH0_ACCESS_TOKEN``), else
    ``AUTH0_CLIENT_ID`` + ``AUTH0_CLIENT_SECRET`` (a machine-to-machine application with
    ``read:connections read:organizations``)."""
    try:
        from auth0.management import ManagementClient
        from auth0.management.core.api_error import ApiError as Auth0ApiError
    except ImportError as e:
        raise ApiError("--from-api auth0 needs auth0-python: pip install 'sso-router[import]'") from e
    import httpx

    domain = domain or os.environ.get("AUTH0_DOMAIN", "")
    token = os.environ.get("AUTH0_API_TOKEN") or os.environ.get("AUTH0_ACCESS_TOKEN")
    cid, secret = os.environ.get("AUTH0_CLIENT_ID"), os.environ.get("AUTH0_CLIENT_SECRET")
    if not domain:
        raise ApiError("set AUTH0_DOMAIN (or --auth0-domain) to your tenant's domain")
    if not token and not (cid and secret):
        raise ApiError("set AUTH0_API_TOKEN, or AUTH0_CLIENT_ID and AUTH0_CLIENT_SECRET")
    domain = domain.removeprefix("https://").rstrip("/")
    try:
        client = ManagementClient(
            domain=domain,
            token=token,
            client_id=None if token else cid,
            client_secret=None if token else secret,
            timeout=timeout,
        )
        connections = [_dump(c) for c in client.connections.list(take=50)]
        orgs = []
        for o in client.organizations.list(take=50):
            od = _dump(o)
            od["enabled_connections"] = [
                _dump(ec) for ec in client.organizations.enabled_connections.list(o.id, per_page=50)
            ]
            od["discovery_domains"] = _discovery_domains(client, o.id, Auth0ApiError)
            orgs.append(od)
    except Auth0ApiError as e:
        body = e.body if isinstance(e.body, dict) else {}
        raise ApiError(
            f"Auth0 Management API answered {e.status_code}: {body.get('message') or body.get('error') or 'no message'}"
        ) from None
    except httpx.HTTPError as e:
        raise ApiError(f"Auth0 Management API at {domain}: {type(e).__name__}: {e}") from None
    return [
        (f"GET https://{domain}/api/v2/connections", connections),
        (f"GET https://{domain}/api/v2/organizations", orgs),
    ]


def _discovery_domains(client: Any, org_id: str | None, api_error: type[Exception]) -> list[JSONObject]:
    """A tenant without the discovery-domains feature answers 403/404: then there are none."""
    try:
        return [_dump(d) for d in client.organizations.discovery_domains.list(org_id)]
    except api_error as e:
        if getattr(e, "status_code", None) in (403, 404):
            return []
        raise


def cognito_docs(user_pool_id: str, *, region: str | None = None, timeout: float = TIMEOUT) -> Docs:
    """AWS credentials, region and endpoint (``AWS_ENDPOINT_URL``) as boto3 finds them."""
    try:
        import boto3
        from botocore.config import Config
        from botocore.exceptions import BotoCoreError, ClientError
    except ImportError as e:
        raise ApiError("--from-api cognito needs boto3: pip install 'sso-router[import]'") from e
    try:
        c = boto3.client(
            "cognito-idp",
            region_name=region,
            config=Config(
                connect_timeout=min(timeout, 10), read_timeout=timeout, retries={"max_attempts": 3, "mode": "standard"}
            ),
        )
        names = [
            p["ProviderName"]
            for page in c.get_paginator("list_identity_providers").paginate(
                UserPoolId=user_pool_id, PaginationConfig={"PageSize": 60}
            )
            for p in page.get("Providers", [])
        ]
        docs = []
        for n in names:
            resp = c.describe_identity_provider(UserPoolId=user_pool_id, ProviderName=n)
            resp.pop("ResponseMetadata", None)
            docs.append((f"describe-identity-provider {n}", resp))
    except ClientError as e:
        err = e.response.get("Error", {})
        raise ApiError(f"Cognito answered {err.get('Code', '?')}: {err.get('Message', '')}") from None
    except BotoCoreError as e:
        raise ApiError(f"Cognito: {e}") from None
    return docs
