"""Events for client backends: written with the change, numbered in commit order, fanned out to the
tenant's webhook endpoints and delivered, signed, at least once.

- `event_emit(tenant=..., type=..., obj=...)` writes the event in the caller's transaction, with `data`
  rendered as the tenant's dialect renders the object (the renderers are registered by the dialect
  modules: `event_renderer`, so the core never imports the API).
- `events_sequence()` numbers the events no transaction in flight can still precede (PostgreSQL: those
  whose writing transaction is older than the oldest one running), so a reader paging by `position`
  never skips one that commits later.
- `events_dispatch()` makes a `Delivery` for each subscribed endpoint and defers its job in the same
  transaction; `delivery_attempt(delivery_id)` POSTs it once, signed, and schedules the next attempt
  (first after WEBHOOK_RETRY_BASE_SECONDS, doubling) until a 2xx or WEBHOOK_RETRY_HOURS.
"""
import hashlib
import hmac
import ipaddress
import logging
import secrets
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import timedelta
from urllib.parse import urlsplit

import certifi
import urllib3
from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connection, transaction
from django.utils import timezone

from wallets import jobs
from wallets.crypto import decrypt, encrypt
from wallets.errors import DomainError, ErrorCode
from wallets.metrics import DELIVERIES
from wallets.models import Delivery, DeliveryAttempt, Event, Tenant, WebhookEndpoint
from wallets.recovery import no_transaction_open
from wallets.validation import invalid

logger = logging.getLogger(__name__)

# Event types, by the dialect of the tenants they belong to.
DIALECT_EVENT_TYPES = {
    Tenant.Dialect.WEBUDDY: (
        "recharge.succeeded", "recharge.failed", "session.started", "session.settled", "session.cancelled",
        "payout.processing", "payout.paid", "payout.failed", "payout.reversed", "bank_detail.added",
        "wallet.suspended", "wallet.reactivated", "wallet.balance_low",
    ),
    Tenant.Dialect.TMR: (
        "kyc.submitted", "kyc.verified", "kyc.rejected", "escrow.frozen", "escrow.released", "escrow.cancelled",
        "wallet.suspended", "wallet.reactivated",
    ),
}
SIGNATURE_HEADER = "Wallet-Signature"
EVENT_ID_HEADER = "Wallet-Event-Id"

# (kind, dialect) -> render(obj) -> dict: what the dialect's own GET answers for the object.
_renderers: dict[tuple[str, str], Callable] = {}


def event_renderer(kind: str, dialect: str):
    """Register how a dialect renders objects of a kind (`recharge`, `session`, ...) in event data.
    The service passes the object as it just wrote it, in its transaction: the renderer answers what
    the dialect's GET would answer for it now."""

    def register(fn):
        _renderers[(kind, dialect)] = fn
        return fn

    return register


def event_emit(*, tenant: Tenant, type: str, obj, kind: str | None = None, data: dict | None = None) -> Event | None:
    """Write one event of the tenant in the caller's transaction; nothing for a type the tenant's
    dialect does not have. `data` given, or the object rendered as the dialect renders `kind` (the
    type's first part by default)."""
    if type not in DIALECT_EVENT_TYPES[tenant.dialect]:
        return None
    if data is None:
        data = _renderers[(kind or type.split(".", 1)[0], tenant.dialect)](obj)
    event = Event.objects.create(tenant=tenant, type=type, data=data)
    transaction.on_commit(events_nudge)
    return event


# Numbering in commit order

_SEQUENCE_LOCK = 4_100_000_001  # a transaction-scoped advisory lock: one sequencer at a time


def events_sequence(*, wait: bool = True) -> int:
    """Give positions to the events that can no longer be preceded; returns how many were numbered.
    One sequencer at a time; `wait=False` (readers) returns at once when another one is at work."""
    with transaction.atomic():
        with connection.cursor() as cursor:
            if wait:
                cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_SEQUENCE_LOCK])
            else:
                cursor.execute("SELECT pg_try_advisory_xact_lock(%s)", [_SEQUENCE_LOCK])
                if not cursor.fetchone()[0]:
                    return 0
            cursor.execute("SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint")
            horizon = cursor.fetchone()[0]
        ready = Event.objects.filter(position__isnull=True, xid__lt=horizon)
        ids = list(ready.order_by("xid", "created_at", "id").values_list("id", flat=True)[:5000])
        if not ids:
            return 0
        last = Event.objects.filter(position__isnull=False).order_by("-position").values_list("position", flat=True).first() or 0
        numbered = [Event(pk=event_id, position=last + offset) for offset, event_id in enumerate(ids, start=1)]
        Event.objects.bulk_update(numbered, ["position"], batch_size=500)
    return len(ids)


# Fan-out to endpoints


_nudged = {"at": 0.0}
_nudge_lock = threading.Lock()
NUDGE_EVERY_SECONDS = 0.5


def events_nudge() -> None:
    """After a commit that wrote events: ask for a dispatch soon, at most twice a second per process
    (a nudge inside that window is dropped: the workers' dispatch every 5 seconds catches it)."""
    with _nudge_lock:
        if time.monotonic() - _nudged["at"] < NUDGE_EVERY_SECONDS:
            return
        _nudged["at"] = time.monotonic()
    from wallets.tasks import dispatch_events

    try:
        jobs.defer(dispatch_events, queueing_lock="dispatch_events")  # not if one is already waiting
    except Exception:  # noqa: BLE001 - the request's work is committed; the periodic dispatch catches up
        logger.warning("dispatch nudge not queued", exc_info=True)


def events_dispatch(*, batch: int = 500) -> int:
    """Number what is ready, then make the deliveries of the events not yet fanned out (each to the
    tenant's active endpoints made before it and subscribed to its type) and defer their jobs, in one
    transaction. Returns how many events were fanned out."""
    events_sequence()
    with transaction.atomic():
        events = list(
            Event.objects.select_for_update(skip_locked=True)
            .filter(dispatched=False, position__isnull=False).order_by("position")[:batch]
        )
        if not events:
            return 0
        endpoints: dict[str, list[WebhookEndpoint]] = {}
        for tenant_id in {e.tenant_id for e in events}:
            endpoints[tenant_id] = list(WebhookEndpoint.objects.filter(tenant_id=tenant_id, status=WebhookEndpoint.Status.ACTIVE))
        new = []
        for event in events:
            for endpoint in endpoints[event.tenant_id]:
                if endpoint.created_at <= event.created_at and (not endpoint.events or event.type in endpoint.events):
                    new.append(Delivery(event=event, endpoint=endpoint, next_attempt_at=timezone.now()))
        made = Delivery.objects.bulk_create(new, ignore_conflicts=True)
        Event.objects.filter(pk__in=[e.pk for e in events]).update(dispatched=True)
        for delivery_id in Delivery.objects.filter(event__in=events, attempts=0, status=Delivery.Status.PENDING).values_list("pk", flat=True):
            _defer_attempt(delivery_id)
    logger.debug("fanned out %d event(s) into %d delivery(ies)", len(events), len(made))
    return len(events)


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


# Deliveries


def envelope(event: Event) -> dict:
    """The event as its tenant's dialect writes it."""
    created = event.created_at.isoformat().replace("+00:00", "Z")
    key = "createdAt" if event.tenant.dialect == Tenant.Dialect.WEBUDDY else "created_at"
    return {"id": str(event.id), "type": event.type, key: created, "data": event.data}


def signature(secret: str, t: int, body: bytes) -> str:
    """`Wallet-Signature`: `t=<unix time>,v1=<hex HMAC-SHA256 of "<t>.<body>" with the secret's UTF-8 bytes>`."""
    digest = hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={t},v1={digest}"


def _body(event: Event) -> bytes:
    from wallets.models import ExactJSONEncoder

    return ExactJSONEncoder().encode(envelope(event)).encode()


def _post(target: WebhookTarget, body: bytes, headers: dict) -> tuple[int, str]:
    """POST to the vetted address (TLS checked against the URL's host name), no redirects followed;
    (status, the start of the answer's body)."""
    timeout = urllib3.Timeout(connect=settings.WEBHOOK_TIMEOUT_SECONDS, read=settings.WEBHOOK_TIMEOUT_SECONDS)
    options = {"timeout": timeout, "retries": False, "maxsize": 1}
    if target.scheme == "https":
        pool = urllib3.HTTPSConnectionPool(target.address, target.port, server_hostname=target.host,
                                           assert_hostname=target.host, cert_reqs="CERT_REQUIRED", ca_certs=certifi.where(),
                                           **options)
    else:
        pool = urllib3.HTTPConnectionPool(target.address, target.port, **options)
    with pool:
        response = pool.urlopen("POST", target.path, body=body, headers={**headers, "Host": target.host_header},
                                redirect=False, assert_same_host=False, preload_content=False)
        try:
            answer = response.read(RESPONSE_KEPT_BYTES, decode_content=False)
        finally:
            response.release_conn()
    return response.status, answer.decode("utf-8", errors="replace")


RESPONSE_KEPT_BYTES = 1000


def _printable(text: str, size: int) -> str:
    return text.replace("\x00", "")[:size]


def delivery_attempt(*, delivery_id: int) -> str:
    """One attempt of a delivery, with no transaction open: POSTed signed (signed anew each time),
    its answer logged; then delivered, or the next attempt scheduled (WEBHOOK_RETRY_BASE_SECONDS
    after the round's first failure, doubling), or given up after WEBHOOK_RETRY_HOURS (the endpoint
    disabled: it keeps failing). A run that is not due (a job run twice) does nothing. Returns the
    delivery's status."""
    no_transaction_open()
    delivery = Delivery.objects.select_related("event__tenant", "endpoint").filter(pk=delivery_id).first()
    if delivery is None or delivery.status != Delivery.Status.PENDING:
        return "gone" if delivery is None else delivery.status
    if delivery.next_attempt_at and delivery.next_attempt_at > timezone.now() + timedelta(seconds=5):
        return "not_due"  # its scheduled job will make the attempt
    endpoint = delivery.endpoint
    if endpoint.status != WebhookEndpoint.Status.ACTIVE:
        Delivery.objects.filter(pk=delivery.pk, status=Delivery.Status.PENDING).update(status=Delivery.Status.CANCELLED)
        return Delivery.Status.CANCELLED
    body = _body(delivery.event)
    started = timezone.now()
    began = time.monotonic()
    status_code, response_body, error = None, "", ""
    try:
        target = webhook_url_check(endpoint.url, resolve=True)  # again at each attempt, and pinned for it
        t = int(time.time())
        status_code, response_body = _post(target, body, {
            "Content-Type": "application/json", "User-Agent": "wallet-service-webhooks",
            SIGNATURE_HEADER: signature(decrypt(endpoint.secret_encrypted), t, body),
            EVENT_ID_HEADER: str(delivery.event_id),
        })
    except DomainError as exc:
        error = exc.message
    except Exception as exc:  # noqa: BLE001 - whatever the receiver or the network did, it is a failed attempt
        error = f"{type(exc).__name__}: {exc}"
    duration = int((time.monotonic() - began) * 1000)
    delivered = status_code is not None and 200 <= status_code < 300
    error = _printable(error, 255)
    with transaction.atomic():
        locked = Delivery.objects.select_for_update().get(pk=delivery.pk)
        if locked.status != Delivery.Status.PENDING or locked.attempts != delivery.attempts:
            return locked.status  # finished, or attempted meanwhile by another run of this job
        DeliveryAttempt.objects.create(delivery=locked, attempted_at=started, duration_ms=duration, status_code=status_code,
                                       response_body=_printable(response_body, RESPONSE_KEPT_BYTES), error=error)
        locked.attempts += 1
        locked.last_status_code, locked.last_error = status_code, error
        if delivered:
            locked.status, locked.delivered_at, locked.next_attempt_at = Delivery.Status.DELIVERED, timezone.now(), None
        else:
            failures = DeliveryAttempt.objects.filter(delivery=locked, attempted_at__gte=locked.retrying_since).count()
            wait = settings.WEBHOOK_RETRY_BASE_SECONDS * 2 ** (max(failures, 1) - 1)
            if locked.retrying_since + timedelta(hours=settings.WEBHOOK_RETRY_HOURS) < timezone.now() + timedelta(seconds=wait):
                locked.status, locked.next_attempt_at = Delivery.Status.FAILED, None
                WebhookEndpoint.objects.filter(pk=endpoint.pk, status=WebhookEndpoint.Status.ACTIVE).update(
                    status=WebhookEndpoint.Status.DISABLED, updated_at=timezone.now(),
                    disabled_reason=f"deliveries failed for {settings.WEBHOOK_RETRY_HOURS} hours (last: {status_code or error})"[:255],
                )
            else:
                locked.next_attempt_at = timezone.now() + timedelta(seconds=wait)
                _defer_attempt(locked.pk, wait=wait)
        locked.save(update_fields=["attempts", "last_status_code", "last_error", "status", "delivered_at", "next_attempt_at"])
    result = {Delivery.Status.DELIVERED: "delivered", Delivery.Status.FAILED: "gave_up"}.get(locked.status, "failed")
    transaction.on_commit(lambda: DELIVERIES.labels(result).inc())
    return locked.status


def _defer_attempt(delivery_id: int, *, wait: float = 0) -> bool:
    """The delivery's next attempt as a job (at most one waiting per delivery)."""
    from wallets.tasks import attempt_delivery

    return jobs.defer(attempt_delivery, schedule_in_seconds=wait or None, queueing_lock=f"delivery:{delivery_id}",
                      delivery_id=delivery_id)


def deliveries_due(*, grace_seconds: int | None = None, batch: int = 1000) -> int:
    """Deliveries that are due but have no job waiting (their job failed, or was lost with the
    process that held it) get one again; returns how many. Run every minute by the workers."""
    grace = grace_seconds if grace_seconds is not None else max(120, 4 * settings.WEBHOOK_TIMEOUT_SECONDS)
    due = Delivery.objects.filter(status=Delivery.Status.PENDING, next_attempt_at__lt=timezone.now() - timedelta(seconds=grace))
    queued = 0
    for delivery_id in due.order_by("next_attempt_at").values_list("pk", flat=True)[:batch]:
        queued += _defer_attempt(delivery_id)
    return queued


def delivery_send_again(*, delivery: Delivery) -> Delivery:
    """Finance's "send again": the delivery pending anew, attempted at once and retried for another
    WEBHOOK_RETRY_HOURS (its history kept)."""
    with transaction.atomic():
        locked = Delivery.objects.select_for_update().get(pk=delivery.pk)
        if locked.status == Delivery.Status.PENDING:
            raise DomainError(ErrorCode.VALIDATION_ERROR, "This delivery is still being attempted.")
        if not WebhookEndpoint.objects.filter(pk=locked.endpoint_id, status=WebhookEndpoint.Status.ACTIVE).exists():
            raise DomainError(ErrorCode.VALIDATION_ERROR, "Its endpoint is not active: enable it first (a deleted one is gone).")
        now = timezone.now()
        locked.status, locked.next_attempt_at, locked.retrying_since = Delivery.Status.PENDING, now, now
        locked.save(update_fields=["status", "next_attempt_at", "retrying_since"])
        _defer_attempt(locked.pk)
    return locked


def events_purge(*, batch: int = 1000) -> int:
    """Events past EVENT_RETENTION_DAYS go (with their deliveries), in short transactions of `batch`
    events (a long one would hold back the numbering of new events): the catch-up API keeps that long."""
    cutoff = timezone.now() - timedelta(days=settings.EVENT_RETENTION_DAYS)
    purged = 0
    while ids := list(Event.objects.filter(created_at__lt=cutoff).order_by("created_at").values_list("pk", flat=True)[:batch]):
        with transaction.atomic():
            DeliveryAttempt.objects.filter(delivery__event_id__in=ids).delete()
            Delivery.objects.filter(event_id__in=ids).delete()
            Event.objects.filter(pk__in=ids).delete()
        purged += len(ids)
    return purged


def events_after(*, tenant: Tenant, after=None, limit: int = 20) -> tuple[list[Event], bool]:
    """The tenant's events after the one with id `after` (from the oldest kept without it), oldest
    first: (at most `limit` events, whether there are more). 404 `event_not_found` for an unknown id."""
    from wallets.validation import parse_uuid

    events_sequence(wait=False)
    events = Event.objects.filter(tenant=tenant, position__isnull=False)
    if after is not None:
        parsed = parse_uuid(after)
        # The cursor is looked up on the primary: a client may hold an event a lagging replica has not
        # numbered yet (the page after it comes from wherever reads may lag).
        cursor = None if parsed is None else (
            Event.objects.using(DEFAULT_DB_ALIAS).filter(pk=parsed, tenant=tenant, position__isnull=False).first()
        )
        if cursor is None:
            raise DomainError(ErrorCode.EVENT_NOT_FOUND, "No such event (or it is older than the events kept).")
        events = events.filter(position__gt=cursor.position)
    found = list(events.select_related("tenant").order_by("position")[: limit + 1])
    return found[:limit], len(found) > limit


