"""`Idempotency-Key` for every POST and PATCH (Stripe semantics, SPEC §2).

The first response for (caller, key) is stored for 24 hours in the same database transaction as
the work it reports, so a crash leaves either both or neither. A retry with the same request gets
the stored status and body back with `Idempotent-Replayed: true`; the same key with another request
is 422 `idempotency_key_reused`; a retry while the first is still running is 409
`idempotency_key_in_use` (a transaction-scoped advisory lock on PostgreSQL tells).
"""
import hashlib
import json
from datetime import timedelta
from decimal import Decimal

from django.conf import settings
from django.db import connection, transaction
from django.http import HttpResponse
from django.utils import timezone

from wallets.api.auth import principal_id
from wallets.errors import DomainError, ErrorCode
from wallets.models import IdempotencyRecord
from wallets.money import canonical_decimal

HEADER = "Idempotency-Key"
REPLAY_HEADER = "Idempotent-Replayed"
METHODS = frozenset({"POST", "PATCH"})
MAX_KEY_LENGTH = 255


def _canonical(value):
    """JSON with numbers compared by value: 10, 10.0 and 10.00 are the same request."""
    if isinstance(value, dict):
        return {key: _canonical(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_canonical(item) for item in value]
    if isinstance(value, (int, Decimal)) and not isinstance(value, bool):
        return {"#": canonical_decimal(Decimal(value))}
    return value


def request_fingerprint(request) -> str:
    """Method, path and body by value. The body is the one the parser already read and checked
    (size, nesting), never parsed a second time; a body that is not JSON fails that parser first."""
    body = request.data
    canonical = json.dumps(_canonical(body), sort_keys=True, ensure_ascii=False, default=str).encode()
    digest = hashlib.sha256()
    for part in (request.method.encode(), request.get_full_path().encode(), canonical):
        digest.update(part)
        digest.update(b"\0")
    return digest.hexdigest()


def _try_lock(client: str, key: str) -> bool:
    if connection.vendor != "postgresql":
        return True  # SQLite serializes writers; a concurrent duplicate waits and then replays
    lock_id = int.from_bytes(hashlib.sha256(f"{client}\0{key}".encode()).digest()[:8], "big", signed=True)
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_xact_lock(%s)", [lock_id])
        return cursor.fetchone()[0]


def _replay(record: IdempotencyRecord) -> HttpResponse:
    response = HttpResponse(record.response_body, status=record.response_status, content_type="application/json")
    response[REPLAY_HEADER] = "true"
    return response


def run_idempotent(view, request, key: str, call):
    """Run `call()` (which returns a finalized, unrendered DRF response) at most once per key."""
    if not key or len(key) > MAX_KEY_LENGTH or not key.isprintable():
        raise DomainError(
            ErrorCode.IDEMPOTENCY_KEY_INVALID,
            f"{HEADER} must be 1 to {MAX_KEY_LENGTH} printable characters.",
        )
    client = principal_id(request)
    fingerprint = request_fingerprint(request)
    with transaction.atomic():
        if not _try_lock(client, key):
            raise DomainError(
                ErrorCode.IDEMPOTENCY_KEY_IN_USE, "A request with this Idempotency-Key is still being processed."
            )
        now = timezone.now()
        record = IdempotencyRecord.objects.filter(client=client, key=key).first()
        if record is not None and record.expires_at > now:
            if record.request_hash != fingerprint:
                raise DomainError(
                    ErrorCode.IDEMPOTENCY_KEY_REUSED,
                    "This Idempotency-Key was used with a different request.",
                )
            return _replay(record)
        if record is not None:
            record.delete()
        try:
            # Its own savepoint: a refused request rolls back its work, and its answer is still kept.
            with transaction.atomic():
                response = call()
        except Exception as exc:  # noqa: BLE001 - rendered exactly as without a key
            response = view.handle_exception(exc)
        response = view.finalize_response(request, response)
        response.render()
        if response.status_code >= 500:
            transaction.set_rollback(True)
            return response
        IdempotencyRecord.objects.create(
            client=client,
            key=key,
            request_hash=fingerprint,
            method=request.method,
            path=request.get_full_path()[:255],
            response_status=response.status_code,
            response_body=response.content.decode("utf-8"),
            created_at=now,
            expires_at=now + timedelta(hours=settings.IDEMPOTENCY_TTL_HOURS),
        )
        return response


def purge_expired() -> int:
    deleted, _ = IdempotencyRecord.objects.filter(expires_at__lte=timezone.now()).delete()
    return deleted
