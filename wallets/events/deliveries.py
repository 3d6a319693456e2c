"""Deliveries of events to endpoints: fanned out in the transaction that marks the events dispatched,
POSTed signed, once per attempt, retried with backoff until a 2xx or WEBHOOK_RETRY_HOURS."""
import hashlib
import hmac
import logging
import time
from datetime import timedelta

import certifi
import urllib3
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from wallets import jobs
from wallets.crypto import decrypt
from wallets.errors import DomainError, ErrorCode
from wallets.events.endpoints import WebhookTarget, webhook_url_check
from wallets.events.outbox import EVENT_ID_HEADER, SIGNATURE_HEADER, events_sequence
from wallets.metrics import DELIVERIES
from wallets.models import Delivery, DeliveryAttempt, Event, Tenant, WebhookEndpoint
from wallets.recovery import no_transaction_open

logger = logging.getLogger(__name__)

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
        # Its scheduled job makes the attempt; should there be none (it was refused while this job,
        # retried from a stalled worker, was the one waiting), there is one now.
        _defer_attempt(delivery.pk, wait=(delivery.next_attempt_at - timezone.now()).total_seconds())
        return "not_due"
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
            # Finished, or attempted meanwhile by another run of this job. That run's next attempt
            # may have found this job waiting (one waiting job per delivery) and queued none: a
            # delivery still pending keeps a job (none is added when one is waiting).
            if locked.status == Delivery.Status.PENDING:
                due = locked.next_attempt_at or timezone.now()
                _defer_attempt(locked.pk, wait=max(0.0, (due - timezone.now()).total_seconds()))
            return locked.status
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
