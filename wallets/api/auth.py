"""Who is calling: partner and platform services by API key (stored hashed, scoped), end users by
JWT. Missing or bad credentials are 401 `not_authenticated`; a valid caller outside its scope is 403
`permission_denied`."""
import hmac
import time

from django.db import connection
from rest_framework import authentication, exceptions, permissions
from rest_framework_simplejwt.authentication import JWTAuthentication
from rest_framework_simplejwt.settings import api_settings as jwt_settings

from wallets.api import rows
from wallets.crypto import API_KEY_PREFIX as KEY_PREFIX
from wallets.crypto import api_key_hash as hash_key
from wallets.models import Account, ApiKey, Tenant, User
from wallets.validation import parse_uuid

KEYWORD = "Api-Key"


class ApiClient:
    """The principal of a request made with an API key: a service of one tenant, speaking its dialect."""

    is_authenticated = True
    is_anonymous = False
    is_staff = False

    def __init__(self, key: ApiKey):
        self.key = key
        self.tenant = key.tenant
        self.scope = key.tenant.dialect
        self.pk = f"key:{key.pk}"

    def __str__(self) -> str:
        return f"api key {self.key.name}"


_TENANT = rows.columns(Tenant, "t")
_KEY = rows.columns(ApiKey, "k")
_USER = rows.columns(User, "u")
_WALLET = rows.columns(Account, "a")

_KEY_SQL = (
    f"SELECT {_KEY[1]}, {_TENANT[1]} FROM {rows.table(ApiKey)} k "
    f"JOIN {rows.table(Tenant)} t ON t.code = k.tenant_id WHERE k.prefix = %s AND k.is_active"
)


class ApiKeyAuthentication(authentication.BaseAuthentication):
    def authenticate(self, request):
        header = request.META.get("HTTP_AUTHORIZATION", "")
        scheme, _, raw = header.partition(" ")
        if scheme.lower() != KEYWORD.lower():
            return None
        raw = raw.strip()
        parts = raw.split("_", 2)
        if len(parts) != 3 or parts[0] != KEY_PREFIX:
            raise exceptions.AuthenticationFailed("The API key is malformed.")
        # Read with its tenant on every request (one indexed row, one statement): a revoked key stops
        # working at once in every process.
        with connection.cursor() as cursor:
            cursor.execute(_KEY_SQL, [parts[1]])
            row = cursor.fetchone()
        n = len(_KEY[0])
        key = None if row is None else rows.instance(ApiKey, _KEY[0], row[:n])
        if key is None or not hmac.compare_digest(key.key_hash, hash_key(raw)):
            raise exceptions.AuthenticationFailed("The API key is not valid.")
        key.tenant = rows.instance(Tenant, _TENANT[0], row[n:])
        return ApiClient(key), key

    def authenticate_header(self, request):
        return KEYWORD


# The user with its tenant and its wallets (none, or one per currency), in one statement.
_USER_SQL = (
    f"SELECT {_USER[1]}, {_TENANT[1]}, {_WALLET[1]} FROM {rows.table(User)} u "
    f"LEFT JOIN {rows.table(Tenant)} t ON t.code = u.tenant_id "
    f"LEFT JOIN {rows.table(Account)} a ON a.user_id = u.id AND a.tenant_id = u.tenant_id AND a.kind = 'wallet' "
    f"WHERE u.id = %s"
)

VERIFIED_MAX = 10_000


class UserJWTAuthentication(JWTAuthentication):
    """simplejwt's authentication, reading the user with its tenant and wallets in one statement on
    every request, so a deactivated user is refused at once in every process.

    A token's signature, once checked, stays valid, so a verified token is remembered (per process, at
    most VERIFIED_MAX of them) until it expires; the user itself is still read on every request."""

    _verified: dict[bytes, tuple[object, int]] = {}  # raw token -> (token, expiry in Unix seconds)

    def get_validated_token(self, raw_token):
        known = self._verified.get(raw_token)
        if known is not None and known[1] > time.time():
            return known[0]
        token = super().get_validated_token(raw_token)
        verified = type(self)._verified
        if len(verified) >= VERIFIED_MAX:
            verified.clear()
        verified[raw_token] = (token, int(token["exp"]))
        return token

    def get_user(self, validated_token):
        user_id = parse_uuid(str(validated_token.get(jwt_settings.USER_ID_CLAIM, "")))
        if user_id is None:
            raise exceptions.AuthenticationFailed("The token names no user.")
        with connection.cursor() as cursor:
            cursor.execute(_USER_SQL, [rows.db_value(User, user_id)])
            found = cursor.fetchall()
        if not found:
            raise exceptions.AuthenticationFailed("The user of this token does not exist.")
        u, t = len(_USER[0]), len(_USER[0]) + len(_TENANT[0])
        user = rows.instance(User, _USER[0], found[0][:u])
        if not user.is_active:
            raise exceptions.AuthenticationFailed("The user of this token is inactive.")
        tenant = rows.instance(Tenant, _TENANT[0], found[0][u:t]) if found[0][u] is not None else None
        if tenant is not None:
            user.tenant = tenant
        user.wallets = {}
        for row in found:
            if row[t] is not None:
                wallet = rows.instance(Account, _WALLET[0], row[t:])
                wallet.user, wallet.tenant = user, tenant
                user.wallets[wallet.currency] = wallet
        return user


def caller_wallet(request, currency: str) -> Account | None:
    """The signed-in user's wallet in `currency` as read with the user (None: it has none), as of the
    start of the request; postings lock and re-read it."""
    return getattr(request.user, "wallets", {}).get(currency)


def request_tenant(request) -> Tenant:
    """The tenant the caller acts for: its API key's, or the signed-in user's."""
    return request.user.tenant


def idempotency_client(request) -> str:
    """Whose `Idempotency-Key`s these are: an API key's tenant (its partner backend, whichever of its
    keys it uses, so a retry across a key rotation is still the same request; as Stripe scopes keys
    to the account), or the signed-in user. Two tenants never share a key."""
    user = request.user
    if isinstance(user, ApiClient):
        return f"tenant:{user.tenant.pk}"
    return f"user:{user.pk}"


class _ScopePermission(permissions.BasePermission):
    scope = ""
    message = "This credential may not use this API."

    def has_permission(self, request, view):
        return isinstance(request.user, ApiClient) and request.user.scope == self.scope


class WebuddyScope(_ScopePermission):
    scope = ApiKey.Scope.WEBUDDY


class TmrScope(_ScopePermission):
    scope = ApiKey.Scope.TMR


def is_end_user(user) -> bool:
    """A TMR Land user (one of a `tmr`-dialect tenant), not staff and not an API key."""
    return (
        user is not None
        and not isinstance(user, ApiClient)
        and user.is_authenticated
        and not user.is_staff
        and not user.is_superuser
        and user.tenant_id is not None
        and user.tenant.dialect == Tenant.Dialect.TMR
    )


class IsEndUser(permissions.BasePermission):
    """A person signed in with a JWT (not an API key) who uses a TMR Land wallet."""

    message = "This endpoint is for signed-in users."

    def has_permission(self, request, view):
        return is_end_user(request.user)
