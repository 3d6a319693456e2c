"""The outbox: events written with the change, by type and dialect, numbered in commit order, read
back by position, purged when old. Each app registers its own event types (`register_event_types`,
from its AppConfig.ready) and how its dialect renders its objects (`event_renderer`)."""
import logging
import threading
import time
from collections.abc import Callable
from datetime import timedelta

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connection, transaction
from django.utils import timezone

from wallets import jobs
from wallets.errors import DomainError, ErrorCode
from wallets.models import Delivery, DeliveryAttempt, Event, Tenant

logger = logging.getLogger(__name__)

# Event types, by the dialect of the tenants they belong to: each app registers its own
# (`register_event_types`, from its AppConfig.ready); a type no app registered is never written.
DIALECT_EVENT_TYPES: dict[str, tuple[str, ...]] = {Tenant.Dialect.WEBUDDY: (), Tenant.Dialect.TMR: ()}


def register_event_types(dialect: str, *types: str) -> None:
    known = DIALECT_EVENT_TYPES[dialect]
    DIALECT_EVENT_TYPES[dialect] = known + tuple(t for t in types if t not in known)


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
