"""Reading the router's visible decision off a response."""


def route(hop) -> tuple[str, str]:
    """(provider, reason) from ``x-sso-route: <provider>; reason=<reason>[; ...]``."""
    assert hop.route, f"no x-sso-route on {hop}"
    provider, _, rest = hop.route.partition(";")
    return provider.strip(), rest.strip().removeprefix("reason=").split(";")[0].strip()
