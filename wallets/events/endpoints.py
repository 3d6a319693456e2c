"""A tenant's webhook endpoints: where its events are delivered (public HTTPS addresses only, checked
again at each attempt), created, disabled, enabled, listed."""
import ipaddress
import logging
import secrets
import socket
from dataclasses import dataclass, replace
from urllib.parse import urlsplit

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from wallets.crypto import encrypt
from wallets.errors import DomainError, ErrorCode
from wallets.events.outbox import DIALECT_EVENT_TYPES
from wallets.models import Delivery, Tenant, WebhookEndpoint
from wallets.validation import invalid

logger = logging.getLogger(__name__)

# Endpoints


@dataclass(frozen=True)
class WebhookTarget:
    """Where one attempt goes: the URL's parts, and the one address it was vetted at (the request
    connects to that address, so a name that resolves elsewhere a moment later changes nothing)."""

    scheme: str
    host: str
    port: int
    host_header: str
    path: str
    address: str | None = None


def webhook_url_check(url, *, field: str = "url", resolve: bool | None = None) -> WebhookTarget:
    """An https URL (http with WEBHOOK_ALLOW_HTTP) of at most 500 printable ASCII characters, with a
    host and no credentials, whose host resolves only to public addresses (any address with
    WEBHOOK_ALLOW_PRIVATE); else a validation error of `field`. `resolve`: look the host up and pin
    an address (by default only when private addresses are refused)."""
    if not isinstance(url, str) or not 0 < len(url) <= 500 or not url.isascii() or any(c <= " " or c == "\x7f" for c in url):
        raise invalid(field, "An https URL of at most 500 printable ASCII characters.")
    try:
        parts = urlsplit(url)
        host, port = parts.hostname, parts.port
    except ValueError:
        raise invalid(field, "Not a valid URL (its host or port cannot be read).") from None
    allowed = {"https", "http"} if settings.WEBHOOK_ALLOW_HTTP else {"https"}
    if parts.scheme not in allowed or not host or parts.username is not None or parts.password is not None:
        what = "https or http" if settings.WEBHOOK_ALLOW_HTTP else "https"
        raise invalid(field, f"The URL must be {what}, with a host and no credentials.")
    target = WebhookTarget(
        scheme=parts.scheme, host=host, port=port or (443 if parts.scheme == "https" else 80),
        host_header=parts.netloc, path=(parts.path or "/") + (f"?{parts.query}" if parts.query else ""),
    )
    if resolve is None:
        resolve = not settings.WEBHOOK_ALLOW_PRIVATE
    if not resolve:
        return target
    addresses = _resolve(host, target.port)
    if not addresses:
        raise invalid(field, "The URL's host does not resolve.")
    if not settings.WEBHOOK_ALLOW_PRIVATE and not all(_public(ip) for ip in addresses):
        raise invalid(field, "The URL resolves to a private, loopback or link-local address.")
    return replace(target, address=str(addresses[0]))


_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_IPV4_COMPATIBLE = ipaddress.ip_network("::/96")


def _public(ip) -> bool:
    """A global unicast address, and so is any IPv4 address an IPv6 one carries (mapped, 6to4,
    NAT64, IPv4-compatible)."""
    if ip.version == 6:
        embedded = ip.ipv4_mapped or ip.sixtofour
        if embedded is None and (ip in _NAT64 or ip in _IPV4_COMPATIBLE):
            embedded = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
        if embedded is not None and not _public(embedded):
            return False
    return ip.is_global and not ip.is_multicast


def _resolve(host: str, port) -> list:
    try:
        infos = socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError, OSError):
        return []
    return [ipaddress.ip_address(info[4][0].split("%")[0]) for info in infos]


def _event_types_check(tenant: Tenant, events, *, field: str = "events") -> list[str]:
    """The types asked for (missing, null or empty: all of the tenant's, stored as [])."""
    if events is None:
        return []
    if not isinstance(events, list) or not all(isinstance(e, str) for e in events):
        raise invalid(field, "A list of event types.")
    known = DIALECT_EVENT_TYPES[tenant.dialect]
    unknown = sorted({e for e in events if e not in known})
    if unknown:
        raise invalid(field, f"Not event types of this API: {', '.join(unknown)[:200]}.")
    return sorted(set(events))


MAX_ENDPOINTS_PER_TENANT = 20


def endpoint_create(*, tenant: Tenant, url, events=None) -> tuple[WebhookEndpoint, str]:
    """A tenant's webhook endpoint and its signing secret (returned once; kept encrypted). At most
    MAX_ENDPOINTS_PER_TENANT of them (409 `limit_reached`)."""
    webhook_url_check(url)
    types = _event_types_check(tenant, events)
    secret = f"whsec_{secrets.token_urlsafe(32)}"
    with transaction.atomic():
        Tenant.objects.select_for_update(no_key=True).filter(pk=tenant.pk).first()  # one tenant's creations in turn
        kept = WebhookEndpoint.objects.filter(tenant=tenant).exclude(status=WebhookEndpoint.Status.DELETED).count()
        if kept >= MAX_ENDPOINTS_PER_TENANT:
            raise DomainError(ErrorCode.LIMIT_REACHED, f"At most {MAX_ENDPOINTS_PER_TENANT} webhook endpoints; delete one first.")
        endpoint = WebhookEndpoint.objects.create(tenant=tenant, url=url, events=types, secret_encrypted=encrypt(secret))
    return endpoint, secret


def endpoint_delete(*, endpoint: WebhookEndpoint) -> None:
    """The endpoint gets nothing more: it is deleted and its pending deliveries cancelled."""
    with transaction.atomic():
        WebhookEndpoint.objects.filter(pk=endpoint.pk).update(status=WebhookEndpoint.Status.DELETED, updated_at=timezone.now())
        Delivery.objects.filter(endpoint=endpoint, status=Delivery.Status.PENDING).update(status=Delivery.Status.CANCELLED)


def endpoint_enable(*, endpoint: WebhookEndpoint) -> WebhookEndpoint:
    """Finance enables an endpoint that was disabled (its receiver is fixed): it gets new events again;
    what failed while it was disabled can be sent again delivery by delivery."""
    with transaction.atomic():
        locked = WebhookEndpoint.objects.select_for_update().get(pk=endpoint.pk)
        if locked.status != WebhookEndpoint.Status.DISABLED:
            raise DomainError(ErrorCode.VALIDATION_ERROR, f"This endpoint is {locked.status}, not disabled.")
        locked.status, locked.disabled_reason = WebhookEndpoint.Status.ACTIVE, ""
        locked.save(update_fields=["status", "disabled_reason", "updated_at"])
    return locked


def endpoints_of(*, tenant: Tenant) -> list[WebhookEndpoint]:
    """The tenant's endpoints (active and disabled), oldest first."""
    return list(WebhookEndpoint.objects.filter(tenant=tenant).exclude(status=WebhookEndpoint.Status.DELETED).order_by("created_at", "pk"))


def endpoint_find(*, tenant: Tenant, endpoint_id) -> WebhookEndpoint:
    from wallets.validation import parse_id

    endpoint = WebhookEndpoint.objects.filter(
        pk=parse_id(endpoint_id, ErrorCode.WEBHOOK_ENDPOINT_NOT_FOUND, "No such webhook endpoint."), tenant=tenant,
    ).exclude(status=WebhookEndpoint.Status.DELETED).first()
    if endpoint is None:
        raise DomainError(ErrorCode.WEBHOOK_ENDPOINT_NOT_FOUND, "No such webhook endpoint.")
    return endpoint
