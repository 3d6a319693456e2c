"""Who is calling: partner and platform services by API key (stored hashed, scoped), end users by
JWT. Missing or bad credentials are 401 `not_authenticated`; a valid caller outside its scope is 403
`permission_denied`."""
import hmac

from django.core.exceptions import ValidationError
from rest_framework import authentication, exceptions, permissions
from rest_framework_simplejwt.authentication import JWTAuthentication
from rest_framework_simplejwt.settings import api_settings as jwt_settings

from wallets.crypto import API_KEY_PREFIX as KEY_PREFIX
from wallets.crypto import api_key_hash as hash_key
from wallets.models import ApiKey, Tenant

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
        # Read on every request (one indexed row): a revoked key stops working at once in every process.
        key = ApiKey.objects.select_related("tenant").filter(prefix=parts[1], is_active=True).first()
        if key is None or not hmac.compare_digest(key.key_hash, hash_key(raw)):
            raise exceptions.AuthenticationFailed("The API key is not valid.")
        return ApiClient(key), key

    def authenticate_header(self, request):
        return KEYWORD


class UserJWTAuthentication(JWTAuthentication):
    """simplejwt's authentication, reading the user with its tenant in one query on every request, so
    a deactivated user is refused at once in every process."""

    def get_user(self, validated_token):
        user_id = validated_token.get(jwt_settings.USER_ID_CLAIM)
        if user_id is None:
            raise exceptions.AuthenticationFailed("The token names no user.")
        try:
            user = self.user_model.objects.select_related("tenant").get(pk=user_id)
        except (self.user_model.DoesNotExist, ValueError, ValidationError):
            raise exceptions.AuthenticationFailed("The user of this token does not exist.") from None
        if not user.is_active:
            raise exceptions.AuthenticationFailed("The user of this token is inactive.")
        return user


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


def idempotency_client_before(request) -> str | None:
    """The name an API key's records had before they were the tenant's (migration 0027), for the
    records processes of the old code wrote while a deploy rolled out (gone with their 24 hours)."""
    return request.user.pk if isinstance(request.user, ApiClient) else None


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
