"""Who is calling: partner and platform services by API key (stored hashed, scoped), end users by
JWT. Missing or bad credentials are 401 `not_authenticated`; a valid caller outside its scope is 403
`permission_denied`."""
import hmac

from rest_framework import authentication, exceptions, permissions

from wallets.crypto import API_KEY_PREFIX as KEY_PREFIX
from wallets.crypto import api_key_hash as hash_key
from wallets.models import ApiKey

KEYWORD = "Api-Key"


class ApiClient:
    """The principal of a request made with an API key."""

    is_authenticated = True
    is_anonymous = False
    is_staff = False

    def __init__(self, key: ApiKey):
        self.key = key
        self.scope = key.scope
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
        key = ApiKey.objects.filter(prefix=parts[1], is_active=True).first()
        if key is None or not hmac.compare_digest(key.key_hash, hash_key(raw)):
            raise exceptions.AuthenticationFailed("The API key is not valid.")
        return ApiClient(key), key

    def authenticate_header(self, request):
        return KEYWORD


def principal_id(request) -> str:
    user = request.user
    if isinstance(user, ApiClient):
        return user.pk
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


class IsEndUser(permissions.BasePermission):
    """A person signed in with a JWT (not an API key)."""

    message = "This endpoint is for signed-in users."

    def has_permission(self, request, view):
        user = request.user
        return user is not None and user.is_authenticated and not isinstance(user, ApiClient)
