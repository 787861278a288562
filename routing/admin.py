"""Who may read the router's own endpoints, and who the client really is behind a balancer.

``client_address``: the peer's address, unless the peer is a trusted proxy
(``[router.admin] trusted_proxies``): then the right-most ``X-Forwarded-For`` entry that is not
itself a trusted proxy (the left part of the header is the client's own claim; only what trusted
hops appended counts). ``admitted``: the client is in ``[router.admin] allow``, or it presents
``Authorization: Bearer <sso_admin_token>`` (compared in constant time).
"""

from __future__ import annotations

import hmac
import ipaddress
from collections.abc import Iterable

from .model import AdminSettings, Network

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def parse_ip(value: str) -> IPAddress | None:
    v = value.strip()
    if v.startswith("[") and "]" in v:  # [v6]:port
        v = v[1 : v.index("]")]
    elif v.count(":") == 1:  # v4:port
        v = v.split(":", 1)[0]
    try:
        ip = ipaddress.ip_address(v)
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped  # ::ffff:10.0.0.1 from a dual-stack listener
    return ip


def _within(ip: IPAddress, networks: Iterable[Network]) -> bool:
    return any(ip.version == n.version and ip in n for n in networks)


def client_address(peer: str, forwarded_for: str | None, trusted: tuple[Network, ...]) -> str:
    """The address to judge the request by (and to pass on in a provider's ``client_ip_header``)."""
    ip = parse_ip(peer)
    if ip is None or not trusted or not forwarded_for or not _within(ip, trusted):
        return str(ip) if ip is not None else peer
    for hop in reversed(forwarded_for.split(",")):
        hop_ip = parse_ip(hop)
        if hop_ip is None:
            return str(ip)  # a garbled entry a trusted hop would not write: judge by the proxy itself
        if not _within(hop_ip, trusted):
            return str(hop_ip)
        ip = hop_ip
    return str(ip)


def bearer(authorization: str | None) -> str | None:
    if not authorization:
        return None
    scheme, _, token = authorization.strip().partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


def admitted(client: str, authorization: str | None, admin: AdminSettings, token: str) -> bool:
    ip = parse_ip(client)
    if ip is not None and _within(ip, admin.allow):
        return True
    given = bearer(authorization)
    return bool(token) and given is not None and hmac.compare_digest(given.encode(), token.encode())
