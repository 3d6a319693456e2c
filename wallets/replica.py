"""Reads that may lag go to the streaming replica (`DATABASE_REPLICA_URL`); everything else goes to
the primary.

Three rules decide, in this order:

1. Only a read inside a `may_lag()` scope may go to the replica: history pages, the events catch-up
   API, statements, the back office's list pages and its dashboard. Every other read (a wallet
   before a posting, an idempotency key, a caller's credentials) is made on the primary.
2. Never inside a transaction on the primary (a money transaction reads what it locks), and never
   for a client that wrote within `REPLICA_READ_AFTER_WRITE_SECONDS`: `ReadYourWritesMiddleware`
   remembers each client's last write (any POST, PUT, PATCH or DELETE) in the cache, shared by every
   process when `CACHE_URL` names one, and pins that client's reads to the primary until then.
3. A replica that cannot be reached is left alone for `REPLICA_RETRY_SECONDS`, with one log line,
   and its reads are made on the primary: a replica that is down never fails a request it was chosen
   for before the request began. (One that dies in the middle of a read fails that read, like any
   database that goes away mid-query.)

Writes always go to the primary, and migrations run on the primary only (the replica is its copy).
"""
import base64
import binascii
import functools
import hashlib
import json
import logging
import time
from contextlib import contextmanager
from contextvars import ContextVar

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import MiddlewareNotUsed
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.utils import DatabaseError

from wallets.errors import DomainError

REPLICA = "replica"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

log = logging.getLogger("wallet.replica")

# Inside `may_lag()`: this context's reads may be served by the replica.
_lag_allowed: ContextVar[bool] = ContextVar("replica_lag_allowed", default=False)
# Set for a request whose client must read from the primary (it writes now, or wrote just before).
_pinned: ContextVar[bool] = ContextVar("replica_pinned", default=False)
# Until when (time.monotonic()) this process leaves an unreachable replica alone.
_down_until = 0.0


def configured() -> bool:
    return REPLICA in settings.DATABASES


@contextmanager
def may_lag():
    """Reads in this block may be served by the replica (if the rules above allow)."""
    token = _lag_allowed.set(True)
    try:
        yield
    finally:
        _lag_allowed.reset(token)


def lag_allowed(view):
    """A read-only view (or function) whose reads may lag: its body runs inside `may_lag()`. What a
    lagging replica does not have yet is never answered as missing: a "not found" refusal is asked
    again of the primary."""
    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        try:
            with may_lag():
                return view(*args, **kwargs)
        except DomainError as exc:
            if not (configured() and exc.code.value.endswith("not_found")):
                raise
        with primary_only():
            return view(*args, **kwargs)

    return wrapper


def rendered_with_lag(view):
    """A Django view whose reads may lag, its template rendered inside the scope too (a list page's
    rows are read while its template renders)."""
    @functools.wraps(view)
    def wrapper(request, *args, **kwargs):
        with may_lag():
            response = view(request, *args, **kwargs)
            if callable(getattr(response, "render", None)) and not getattr(response, "is_rendered", True):
                response.render()
            return response

    return wrapper


@contextmanager
def primary_only():
    """Reads in this block go to the primary, whatever else says (a client's own recent write)."""
    token = _pinned.set(True)
    try:
        yield
    finally:
        _pinned.reset(token)


def read_alias() -> str:
    """Where a read made now goes: `replica` or `default`."""
    if not _lag_allowed.get() or _pinned.get() or not configured():
        return DEFAULT_DB_ALIAS
    if connections[DEFAULT_DB_ALIAS].in_atomic_block:
        return DEFAULT_DB_ALIAS
    return REPLICA if _replica_usable() else DEFAULT_DB_ALIAS


def _replica_usable() -> bool:
    """The replica's connection is open and sound, or opens now; otherwise it is marked down."""
    global _down_until
    if time.monotonic() < _down_until:
        return False
    replica = connections[REPLICA]
    try:
        if replica.connection is not None and not replica.is_usable():
            replica.close()
        replica.ensure_connection()
        return True
    except DatabaseError as exc:
        _down_until = time.monotonic() + settings.REPLICA_RETRY_SECONDS
        try:
            replica.close()
        except DatabaseError:
            pass
        log.warning("replica unavailable, reading from the primary for %ss: %s",
                    settings.REPLICA_RETRY_SECONDS, str(exc).strip().splitlines()[0] if str(exc).strip() else exc)
        return False


def forget_down() -> None:
    """Try the replica again at the next read (tests, and an operator who has just mended it)."""
    global _down_until
    _down_until = 0.0


class ReplicaRouter:
    """Django's database router for a primary (`default`) and its replica (`replica`)."""

    def db_for_read(self, model, **hints):
        return read_alias()

    def db_for_write(self, model, **hints):
        return DEFAULT_DB_ALIAS

    def allow_relation(self, obj1, obj2, **hints):
        return True  # one database and its copy

    def allow_migrate(self, db, app_label, model_name=None, **hints):
        return db == DEFAULT_DB_ALIAS


# Read your own writes


def client_of(request) -> str | None:
    """Who is asking, as a short key: a TMR user's id (the token's claim, read unverified: routing
    only, a forged one can only send reads to the primary), an API key's hash, a staff member's
    session. None for a caller with no credential (who cannot write)."""
    header = request.META.get("HTTP_AUTHORIZATION", "")
    scheme, _, credential = header.partition(" ")
    if scheme == "Bearer" and credential.count(".") == 2:
        payload = credential.split(".")[1]
        try:
            claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
            user = claims.get("user_id") if isinstance(claims, dict) else None
        except (binascii.Error, ValueError, UnicodeDecodeError):
            user = None
        if isinstance(user, str) and user:
            return "u:" + hashlib.sha256(user.lower().encode()).hexdigest()[:32]
    if credential:
        return "c:" + hashlib.sha256(header.encode("utf-8", "replace")).hexdigest()[:32]
    session = request.COOKIES.get(settings.SESSION_COOKIE_NAME)
    if session:
        return "s:" + hashlib.sha256(session.encode("utf-8", "replace")).hexdigest()[:32]
    return None


def _cache_key(client: str) -> str:
    return f"replica:wrote:{client}"


def wrote_recently(client: str) -> bool:
    """True when the client wrote within the window, or when the cache cannot tell (then the
    primary answers: never a stale read because the cache is down)."""
    try:
        return cache.get(_cache_key(client)) is not None
    except Exception:  # a shared cache that is down: the safe answer
        log.warning("cache unavailable: client's reads go to the primary", exc_info=True)
        return True


def remember_write(client: str) -> None:
    try:
        cache.set(_cache_key(client), 1, timeout=settings.REPLICA_READ_AFTER_WRITE_SECONDS)
    except Exception:
        log.warning("cache unavailable: a client's write was not remembered", exc_info=True)


class ReadYourWritesMiddleware:
    """Pins to the primary a request that writes, and every request of a client that wrote within
    `REPLICA_READ_AFTER_WRITE_SECONDS`. Not in the chain at all without a replica."""

    def __init__(self, get_response):
        if not configured():
            raise MiddlewareNotUsed
        self.get_response = get_response

    def __call__(self, request):
        client = client_of(request)
        writes = request.method not in SAFE_METHODS
        if writes and client is not None:
            remember_write(client)  # from now: a read of this client's running alongside is pinned too
        pin = writes or (client is not None and wrote_recently(client))
        token = _pinned.set(pin)
        try:
            response = self.get_response(request)
        finally:
            _pinned.reset(token)
        if writes and client is not None:
            remember_write(client)  # again: the window counts from the commit, not from the request
        return response
