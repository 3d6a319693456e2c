"""The address of the client behind a request, for login throttling, the metrics allow-list and logs.

`REMOTE_ADDR` is the peer that connected to us. Only when that peer is one of `TRUSTED_PROXIES`
(addresses or networks, e.g. the load balancer's) is `X-Forwarded-For` read, from the right: each
trusted proxy appended the address it saw, so the first address from the right that is not a trusted
proxy is the client. Anything to its left was written by the client and is never believed.
"""
import ipaddress
from functools import lru_cache

from django.conf import settings

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@lru_cache(maxsize=8)
def networks(spec: tuple[str, ...]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(item, strict=False) for item in spec)


def address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        parsed = ipaddress.ip_address(text.strip())
    except ValueError:
        return None
    mapped = getattr(parsed, "ipv4_mapped", None)
    return mapped or parsed


def is_within(text: str, spec) -> bool:
    """Whether the address `text` is in one of the networks of `spec` (a list of addresses/CIDRs)."""
    found = address(text)
    return found is not None and any(found in network for network in networks(tuple(spec)))


def client_ip(request) -> str:
    """The client's address: the peer, or, behind trusted proxies, the last untrusted hop they saw."""
    peer = request.META.get("REMOTE_ADDR", "") or ""
    trusted = tuple(settings.TRUSTED_PROXIES)
    if not trusted or not is_within(peer, trusted):
        return peer or "unknown"
    hops = [hop.strip() for hop in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if hop.strip()]
    for hop in reversed(hops):
        if address(hop) is None:
            return peer  # a hop we cannot read: stop at the last address we know is real
        if not is_within(hop, trusted):
            return str(address(hop))
    return peer
