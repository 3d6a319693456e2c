"""Reads that may lag go to the streaming replica (`DATABASE_REPLICA_URL`); everything else goes to
the primary.

The rules, in this order:

1. Only a read inside a `may_lag()` scope may go to the replica, and only in a GET, HEAD or OPTIONS
   request: history pages, the events catch-up API, the back office's list pages and its dashboard.
   Every other read (a wallet before a posting, an idempotency key, a caller's credentials and
   permissions, which are read before the scope opens) is made on the primary.
2. Never inside a transaction on the primary (a money transaction reads what it locks), and never
   for a client that wrote within `REPLICA_READ_AFTER_WRITE_SECONDS`: `ReadYourWritesMiddleware`
   remembers each client's last successful write (a POST, PUT, PATCH or DELETE answered below 400)
   in the cache, shared by every process when `CACHE_URL` names one, and pins that client's reads
   to the primary until then. A cache that cannot be reached pins every client (and is left alone
   for a while, so that it costs no request a timeout).
3. A replica that cannot be reached, is not a standby, or has fallen further behind than
   `REPLICA_MAX_LAG_SECONDS` is left alone for `REPLICA_RETRY_SECONDS`, with one log line, and its
   reads are made on the primary. (Its state is looked at no more than once a second per process.)
4. A read on the replica that fails (the replica went away mid-read, or cancelled the query to
   replay), and a "not found" answered from the replica, are asked again of the primary: the views
   in a scope only read, so running them twice is safe. A request is never refused because of the
   replica.

Writes always go to the primary, and migrations run on the primary only (the replica is its copy).
"""
import base64
import binascii
import functools
import hashlib
import json
import logging
import threading
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


class _Scope:
    """One `may_lag()` block: whether a read in it went to the replica."""

    __slots__ = ("used",)

    def __init__(self):
        self.used = False


# Inside `may_lag()`: this context's reads may be served by the replica.
_scope: ContextVar[_Scope | None] = ContextVar("replica_scope", default=None)
# Set for a request whose client must read from the primary (it writes now, or wrote just before).
_pinned: ContextVar[bool] = ContextVar("replica_pinned", default=False)


def configured() -> bool:
    return REPLICA in settings.DATABASES


@contextmanager
def may_lag():
    """Reads in this block may be served by the replica (if the rules above allow)."""
    token = _scope.set(_Scope())
    try:
        yield
    finally:
        _scope.reset(token)


@contextmanager
def primary_only():
    """Reads in this block go to the primary, whatever else says."""
    token = _pinned.set(True)
    try:
        yield
    finally:
        _pinned.reset(token)


def _request_of(args):
    return next((arg for arg in args if hasattr(arg, "method") and hasattr(arg, "META")), None)


def with_lag(call, request):
    """`call()` inside `may_lag()`; asked again of the primary when the replica failed it or said
    "not found" (only when the replica answered something in it)."""
    if not configured() or (request is not None and request.method not in SAFE_METHODS):
        return call()
    scope = _Scope()
    token = _scope.set(scope)
    try:
        return call()
    except DomainError as exc:
        if not (scope.used and exc.code.value.endswith("not_found")):
            raise
    except DatabaseError as exc:
        if not scope.used:
            raise
        _replica_failed(exc)
    finally:
        _scope.reset(token)
    with primary_only():
        return call()


def lag_allowed(view):
    """A read-only view (or function) whose reads may lag: its body runs inside `may_lag()`."""
    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        return with_lag(lambda: view(*args, **kwargs), _request_of(args))

    return wrapper


def rendered_with_lag(view):
    """A Django view whose reads may lag, its template rendered inside the scope too (a list page's
    rows are read while it renders). The caller's session, user, second factor and permissions are
    read on the primary first: who may see a page is never decided by a copy."""
    @functools.wraps(view)
    def wrapper(request, *args, **kwargs):
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            user.get_all_permissions()  # filled in now, on the primary; the admin's checks read the cache
            getattr(user, "otp_device", None)

        def render():
            response = view(request, *args, **kwargs)
            if callable(getattr(response, "render", None)) and not getattr(response, "is_rendered", True):
                response.render()
            return response

        return with_lag(render, request)

    return wrapper


# The router


def read_alias() -> str:
    """Where a read made now goes: `replica` or `default`."""
    scope = _scope.get()
    if scope is None or _pinned.get() or not configured():
        return DEFAULT_DB_ALIAS
    if connections[DEFAULT_DB_ALIAS].in_atomic_block:
        return DEFAULT_DB_ALIAS
    if not _replica_usable():
        return DEFAULT_DB_ALIAS
    scope.used = True
    return REPLICA


class _Health:
    """This process's view of the replica: down until a moment, and when its lag was last read."""

    def __init__(self):
        self.down_until = 0.0
        self.checked_at = 0.0
        self.lock = threading.Lock()


_health = _Health()

_STATE_SQL = """
SELECT pg_is_in_recovery(),
       CASE WHEN NOT pg_is_in_recovery() OR pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0
            ELSE COALESCE(EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp()), 0) END
"""


def _mark_down(reason: str) -> None:
    _health.down_until = time.monotonic() + settings.REPLICA_RETRY_SECONDS
    log.warning("replica unavailable, reading from the primary for %ss: %s", settings.REPLICA_RETRY_SECONDS, reason)


def _replica_failed(exc: Exception) -> None:
    try:
        connections[REPLICA].close()
    except DatabaseError:
        pass
    _mark_down(f"a read failed: {_first_line(exc)}")


def _first_line(exc: Exception) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _replica_usable() -> bool:
    """The replica's connection is open and sound (or opens now), it is a standby, and it is not
    further behind than REPLICA_MAX_LAG_SECONDS; otherwise it is marked down for a while. After a
    down spell one thread at a time tries it again (the others read from the primary meanwhile), so a
    replica that swallows connections stalls one request, not all of them."""
    now = time.monotonic()
    if now < _health.down_until:
        return False
    replica = connections[REPLICA]
    due = now - _health.checked_at >= 1.0
    retrying = _health.down_until > 0
    if not (due or retrying or replica.connection is None) and replica.is_usable():
        return True
    if not _health.lock.acquire(blocking=not retrying):
        return False
    try:
        if time.monotonic() < _health.down_until:
            return False
        due = time.monotonic() - _health.checked_at >= 1.0  # another thread may have just looked
        if replica.connection is not None and not replica.is_usable():
            replica.close()
        replica.ensure_connection()
        if due or retrying:
            with replica.cursor() as cursor:
                cursor.execute(_STATE_SQL)
                standby, lag = cursor.fetchone()
            _health.checked_at = time.monotonic()
            if not standby:
                _mark_down("it is not a standby (promoted?)")
                return False
            if lag > settings.REPLICA_MAX_LAG_SECONDS:
                _mark_down(f"it is {float(lag):.1f} s behind (REPLICA_MAX_LAG_SECONDS={settings.REPLICA_MAX_LAG_SECONDS})")
                return False
        _health.down_until = 0.0
        return True
    except DatabaseError as exc:
        try:
            replica.close()
        except DatabaseError:
            pass
        _mark_down(_first_line(exc))
        return False
    finally:
        _health.lock.release()


def forget_down() -> None:
    """Try the replica again at the next read, and read its state afresh (tests; an operator who
    has just mended it)."""
    _health.down_until = 0.0
    _health.checked_at = 0.0


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
    """Who is asking, as a short key: a TMR user's id (the token's claim; the write it is remembered
    for was authenticated), an API key's hash, a staff member's session. None for a caller with no
    credential (who cannot write)."""
    header = request.META.get("HTTP_AUTHORIZATION", "").strip()
    scheme, _, credential = header.partition(" ")
    credential = credential.strip()
    payload = credential.split(".")[1] if credential.count(".") == 2 else ""
    if scheme.lower() == "bearer" and 0 < len(payload) <= MAX_CLAIMS_CHARS:
        try:
            claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
            user = claims.get("user_id") if isinstance(claims, dict) else None
        except (binascii.Error, ValueError, RecursionError):  # not a token of ours: the header is the key
            user = None
        if isinstance(user, str) and user:
            return "u:" + hashlib.sha256(user.lower().encode("utf-8", "replace")).hexdigest()[:32]
    if credential:
        return "c:" + hashlib.sha256(f"{scheme.lower()} {credential}".encode("utf-8", "replace")).hexdigest()[:32]
    session = request.COOKIES.get(settings.SESSION_COOKIE_NAME)
    if session:
        return "s:" + hashlib.sha256(session.encode("utf-8", "replace")).hexdigest()[:32]
    return None


# Our access tokens' claims are a few hundred characters; a longer (or deeply nested) one is not ours.
MAX_CLAIMS_CHARS = 2048


def _cache_key(client: str) -> str:
    return f"replica:wrote:{client}"


class _CacheHealth:
    down_until = 0.0


def _cache_failed(what: str) -> None:
    _CacheHealth.down_until = time.monotonic() + settings.REPLICA_RETRY_SECONDS
    log.warning("cache unavailable (%s): every client reads from the primary for %ss", what,
                settings.REPLICA_RETRY_SECONDS)


def wrote_recently(client: str) -> bool:
    """True when the client wrote within the window, or when the cache cannot tell (then the
    primary answers: never a stale read because the cache is down)."""
    if time.monotonic() < _CacheHealth.down_until:
        return True
    try:
        return cache.get(_cache_key(client)) is not None
    except Exception as exc:  # a shared cache that is down (any client library's error): the safe answer
        _cache_failed(_first_line(exc))
        return True


def remember_write(client: str) -> None:
    if time.monotonic() < _CacheHealth.down_until:
        return  # every client is pinned meanwhile
    try:
        cache.set(_cache_key(client), 1, timeout=settings.REPLICA_READ_AFTER_WRITE_SECONDS)
    except Exception as exc:
        _cache_failed(_first_line(exc))


class ReadYourWritesMiddleware:
    """Pins to the primary a request that writes, and every request of a client that wrote within
    `REPLICA_READ_AFTER_WRITE_SECONDS`. Not in the chain at all without a replica."""

    def __init__(self, get_response):
        if not configured():
            raise MiddlewareNotUsed
        self.get_response = get_response

    def __call__(self, request):
        writes = request.method not in SAFE_METHODS
        client = client_of(request)
        pin = writes or (client is not None and wrote_recently(client))
        token = _pinned.set(pin)
        try:
            response = self.get_response(request)
        finally:
            _pinned.reset(token)
        if writes and client is not None and response.status_code < 400:
            # Before the answer leaves: the client cannot ask again before this is remembered.
            remember_write(client)
        return response
