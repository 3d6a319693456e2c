"""`Idempotency-Key` for every POST and PATCH (Stripe semantics, SPEC §2), with recovery points.

1. **Claim.** The key's record (client: the API key's tenant or the JWT's user; key, request
   fingerprint, a lease) is inserted before the request's work runs. One with another body is 422
   `idempotency_key_reused`; one after the first finished gets the stored response back with
   `Idempotent-Replayed: true`.
2. **Run.** A handler whose service touches only our database claims, works and stores its response
   in one transaction: all or nothing, one commit; a concurrent request with the key waits on the
   record's row and then replays. A handler whose service calls out (`wallets.recovery.calls_out`)
   commits its claim first (another request with the key meanwhile is 409 `idempotency_key_in_use` at
   once, with no transaction held open), then runs the service's phases: each commits its own
   transaction with a recovery point on the record, the outside call runs with none open, and a retry
   resumes after the last recovery point (a record whose lease ran out, its process gone, is resumed).
3. **Store.** The response (2xx or 4xx) is stored for 24 hours, conditionally on still holding the
   lease; a 5xx is not stored and the lease is let go, so a retry runs (or resumes) at once.

Without a key none of this runs: the request does the same work (`wallets.recovery.NO_RECOVERY`).
"""
import hashlib
import json
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from django.conf import settings
from django.db import OperationalError, connection, transaction
from django.http import HttpResponse
from django.utils import timezone

from wallets.api.auth import idempotency_client
from wallets.crypto import decrypt, encrypt
from wallets.errors import DomainError, ErrorCode
from wallets.models import IdempotencyRecord
from wallets.money import canonical_decimal
from wallets.recovery import STARTED

HEADER = "Idempotency-Key"
REPLAY_HEADER = "Idempotent-Replayed"
METHODS = frozenset({"POST", "PATCH"})
MAX_KEY_LENGTH = 255


class LeaseLost(Exception):
    """Another run took the record over (this one outlived its lease): the step this run was in is
    rolled back, and the client is told the key is in use; the other run finishes the work."""


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
    canonical = json.dumps(_canonical(request.data), sort_keys=True, ensure_ascii=False, default=str).encode()
    digest = hashlib.sha256()
    for part in (request.method.encode(), request.get_full_path().encode(), canonical):
        digest.update(part)
        digest.update(b"\0")
    return digest.hexdigest()


@dataclass
class RecordRecovery:
    """The recovery points of one run, kept on its record while it holds the lease."""

    record_id: int
    token: uuid.UUID
    point: str
    data: dict

    def _write(self, point: str, data: dict) -> None:
        merged = {**self.data, **data}
        # Each step renews the lease, so a run about to call out holds it for the whole call.
        updated = IdempotencyRecord.objects.filter(pk=self.record_id, lease_token=self.token).update(
            recovery_point=point, recovery_data=merged, locked_until=_lease_end()
        )
        if not updated:
            raise LeaseLost()
        self.point, self.data = point, merged

    @contextmanager
    def step(self, point: str):
        """One phase's transaction, which also records `point` and what `remember(**data)` was given."""
        remembered: dict = {}
        with transaction.atomic():
            yield remembered.update
            self._write(point, remembered)

    def save(self, point: str, **data) -> None:
        with transaction.atomic():
            self._write(point, data)


def _lease_end():
    return timezone.now() + timedelta(seconds=settings.IDEMPOTENCY_LEASE_SECONDS)


# A stored response that carries a secret (a webhook endpoint's signing secret, shown once) is kept
# encrypted: `enc:` and the token (a JSON body never starts with it). rotate_encryption_key covers it.
SEALED = "enc:"


def _body_kept(view, response) -> str:
    body = response.content.decode("utf-8")
    return SEALED + encrypt(body) if getattr(view, "response_has_secret", False) else body


def _body_replayed(stored: str) -> str:
    return decrypt(stored[len(SEALED):]) if stored.startswith(SEALED) else stored


def _replay(record: IdempotencyRecord) -> HttpResponse:
    response = HttpResponse(_body_replayed(record.response_body), status=record.response_status,
                            content_type="application/json")
    response[REPLAY_HEADER] = "true"
    return response


# The two statements every keyed request makes, written out (the ORM's compiler would cost more than
# the statements themselves).
_TABLE = IdempotencyRecord._meta.db_table
# The claim waits for a record another transaction is writing at most IDEMPOTENCY_WAIT_SECONDS
# (PostgreSQL's lock_timeout, set for this statement's wait in its FROM and put back in its RETURNING;
# then 409), so a duplicate never ties up a server thread for longer.
_INSERT = (
    f'INSERT INTO "{_TABLE}" (client, key, request_hash, method, path, lease_token, locked_until, recovery_point, '
    "recovery_data, response_status, response_body, created_at, expires_at) "
    "SELECT %s, %s, %s, %s, %s, %s, %s, %s, '{}'::jsonb, NULL, NULL, %s, %s "
    "FROM (SELECT set_config('lock_timeout', %s, true)) AS wait "
    "ON CONFLICT (client, key) DO NOTHING RETURNING id, set_config('lock_timeout', %s, true)"
)
_WAIT_ENDS = "SELECT set_config('lock_timeout', %s, true)"
LOCK_NOT_AVAILABLE = "55P03"


def _usual_lock_timeout(cursor) -> str:
    """The connection's lock_timeout outside a claim (read once per connection)."""
    value = getattr(connection, "wallet_lock_timeout", None)
    if value is None:
        cursor.execute("SELECT current_setting('lock_timeout')")
        value = connection.wallet_lock_timeout = cursor.fetchone()[0]
    return value


_FINISH = (
    f'UPDATE "{_TABLE}" SET response_status = %s, response_body = %s, recovery_point = \'finished\', '
    "lease_token = NULL, locked_until = NULL WHERE id = %s AND lease_token = %s"
)


def _claim(*, client: str, key: str, fingerprint: str, request) -> RecordRecovery | HttpResponse:
    """Create or take over the key's record, in the caller's transaction; or the reason not to run.

    One statement when the key is new. A record another transaction is writing (a concurrent request
    with the key) is waited for, then decided on as it is: replayed, refused, or taken over."""
    now = timezone.now()
    token = uuid.uuid4()
    path = request.get_full_path()[:255]
    expires = now + timedelta(hours=settings.IDEMPOTENCY_TTL_HOURS)
    try:
        with connection.cursor() as cursor:
            usual = _usual_lock_timeout(cursor)
            wait = f"{settings.IDEMPOTENCY_WAIT_SECONDS * 1000}ms"
            for _ in range(3):  # a record deleted (purged) between our insert and our read: insert again
                cursor.execute(_INSERT, [client, key, fingerprint, request.method, path, token, _lease_end(), STARTED, now,
                                         expires, wait, usual])
                row = cursor.fetchone()
                if row is not None:
                    return RecordRecovery(row[0], token, STARTED, {})
                record = IdempotencyRecord.objects.select_for_update().filter(client=client, key=key).first()
                if record is not None:
                    break
            else:
                raise _in_use()
            cursor.execute(_WAIT_ENDS, [usual])
    except OperationalError as exc:
        if getattr(exc.__cause__, "sqlstate", None) == LOCK_NOT_AVAILABLE:
            raise _in_use() from None
        raise
    if record.finished and record.expires_at <= now:  # a finished key kept past its 24 hours starts afresh
        fresh = {
            "request_hash": fingerprint, "method": request.method, "path": path, "lease_token": token,
            "locked_until": _lease_end(), "recovery_point": STARTED, "recovery_data": {}, "response_status": None,
            "response_body": None, "created_at": now, "expires_at": expires,
        }
        for name, value in fresh.items():
            setattr(record, name, value)
        record.save()
        return RecordRecovery(record.pk, token, STARTED, {})
    if record.request_hash != fingerprint:
        raise DomainError(ErrorCode.IDEMPOTENCY_KEY_REUSED, "This Idempotency-Key was used with a different request.")
    if record.finished:
        return _replay(record)
    if record.locked_until is not None and record.locked_until > now:
        raise _in_use()
    # The run that held it is gone (even past 24 hours: its work must finish under this key, never
    # start again under a new one): take it over and resume after its last recovery point.
    record.lease_token, record.locked_until = token, _lease_end()
    record.save(update_fields=["lease_token", "locked_until"])
    return RecordRecovery(record.pk, token, record.recovery_point, dict(record.recovery_data))


def _store(view, recovery: RecordRecovery, response) -> None:
    """The response for replay, if this run still holds the record (in the caller's transaction, if any)."""
    with connection.cursor() as cursor:
        cursor.execute(_FINISH, [response.status_code, _body_kept(view, response), recovery.record_id, recovery.token])
        updated = cursor.rowcount
    if not updated:
        raise LeaseLost()


def _let_go(recovery: RecordRecovery) -> None:
    IdempotencyRecord.objects.filter(pk=recovery.record_id, lease_token=recovery.token).update(locked_until=timezone.now())


def _in_use() -> DomainError:
    return DomainError(ErrorCode.IDEMPOTENCY_KEY_IN_USE, "A request with this Idempotency-Key is still being processed.")


def run_idempotent(view, request, key: str, call, *, phased: bool):
    """Run `call()` (the view's handler) at most once per (client, key): claim, run, store. The client
    is the caller's tenant for an API key (every key of one partner), the user for a JWT. `phased`:
    the handler's service calls out (`wallets.recovery.calls_out`)."""
    if not key or len(key) > MAX_KEY_LENGTH or not key.isprintable():
        raise DomainError(
            ErrorCode.IDEMPOTENCY_KEY_INVALID,
            f"{HEADER} must be 1 to {MAX_KEY_LENGTH} printable characters.",
        )
    client, fingerprint = idempotency_client(request), request_fingerprint(request)

    def claim():
        return _claim(client=client, key=key, fingerprint=fingerprint, request=request)

    if not phased:
        return _run_in_one_transaction(view, request, claim, call)
    with transaction.atomic():
        claimed = claim()
    if isinstance(claimed, HttpResponse):
        return claimed
    recovery = claimed
    try:
        response = _run_in_phases(view, request, recovery, call)
    except LeaseLost:
        raise _in_use() from None
    except BaseException:
        _let_go(recovery)  # an unexpected error (a 500): a retry runs, or resumes, at once
        raise
    if response.status_code >= 500:
        _let_go(recovery)
    return response


def _rendered(view, request, response):
    response = view.finalize_response(request, response)
    response.render()
    return response


def _run_in_one_transaction(view, request, claim, call):
    """Our database only: the key's record, the work and the stored response commit together, or
    none does. A concurrent request with the key waits on the record's row, then replays."""
    with transaction.atomic():
        claimed = claim()
        if isinstance(claimed, HttpResponse):
            return claimed
        try:
            response = call()
        except Exception as exc:  # noqa: BLE001 - a refusal: rendered exactly as without a key, below
            refusal = exc
            transaction.set_rollback(True)
        else:
            response = _rendered(view, request, response)
            if response.status_code >= 500:
                transaction.set_rollback(True)
            else:
                _store(view, claimed, response)
            return response
    # Refused: the work is rolled back (the claim with it), and its answer is kept in a transaction of
    # its own, unless another request with the key finished first (then that one's answer is the key's).
    response = _rendered(view, request, view.handle_exception(refusal))
    if response.status_code < 500:
        with transaction.atomic():
            claimed = claim()
            if isinstance(claimed, HttpResponse):
                return claimed
            _store(view, claimed, response)
    return response


def _run_in_phases(view, request, recovery: RecordRecovery, call):
    """A handler that calls out: its services commit their phases themselves (no transaction open
    around them); the final response is stored in a transaction of its own."""
    request.recovery = recovery
    try:
        response = call()
    except LeaseLost:
        raise
    except Exception as exc:  # noqa: BLE001 - rendered exactly as without a key
        response = view.handle_exception(exc)
    response = _rendered(view, request, response)
    if response.status_code < 500:
        with transaction.atomic():
            _store(view, recovery, response)
    return response


def purge_expired() -> int:
    """Drop finished records past their 24 hours. An unfinished one stays: it is how a retry resumes
    the work it began (and where its recovery point is kept)."""
    deleted, _ = IdempotencyRecord.objects.filter(expires_at__lte=timezone.now(), response_status__isnull=False).delete()
    return deleted
