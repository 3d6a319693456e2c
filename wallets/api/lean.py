"""The lean path of the hottest money requests.

A money request through DRF pays for machinery it does not use: content negotiation, a Request
wrapper, authentication classes that read the caller through the ORM, serializers built field by
field for every request. The lean path answers the ordinary request to a hot endpoint without it:
the body is read with the same strict JSON rules, the caller and the rows it needs are read with one
hand-written statement, and the handler calls **the same service** the full view calls and answers
with the same plain-dict renderer.

It is only a shortcut for requests it fully understands. For anything else it raises `Skip` before
any write, and the same request goes the full way (DRF), which answers exactly as it always has: a body with an unknown
field, a wrong type, text with control characters or surrounding spaces, a missing or unusual
credential, an `Idempotency-Key`, an `Accept` other than JSON, a row that is not there. So every
refusal a client can provoke before the service runs is written in one place, the full view; the
refusals of the service itself (`DomainError`) are rendered here with the same envelope and status.

A view opts in with `lean = LeanRoute(...)` (see `wallets.api.base.ApiView.as_view`).
"""
import functools
import hmac
import json
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from decimal import Decimal
from typing import Callable

from django.conf import settings
from django.db import connection
from django.http import HttpResponse
from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.settings import api_settings as jwt_settings
from rest_framework_simplejwt.tokens import AccessToken

from wallets.api.errors import domain_refusal
from wallets.api.rendering import DecimalJSONRenderer, json_int, json_object
from wallets.crypto import API_KEY_PREFIX, api_key_hash
from wallets.errors import DomainError
from wallets.models import Account, ApiKey, Tenant, User
from wallets.validation import json_depth_check, parse_ascii_int, parse_uuid

JSON_TYPES = ("application/json", "application/json; charset=utf-8", "application/json;charset=utf-8")
ACCEPTED = ("*/*", "application/json", "application/*")  # or no Accept at all (an empty one: DRF's 406)


class Skip(Exception):
    """This request is not one the lean path answers: it goes the full way."""


# What a body field may be on the lean path (anything else: the full view explains what is wrong).


def amount(value):
    """A JSON number as the client sent it (int or finite Decimal); the service applies the
    currency's rules, as it does for the full view."""
    if type(value) is int or (type(value) is Decimal and value.is_finite()):
        return value
    raise Skip


def text(max_length: int = 255):
    def check(value):
        if type(value) is not str or not value or len(value) > max_length or value != value.strip() or not value.isprintable():
            raise Skip
        return value

    return check


def an_id(value):
    parsed = parse_uuid(value) if type(value) is str else None
    if parsed is None:
        raise Skip
    return parsed


def choice(*values):
    allowed = frozenset(values)

    def check(value):
        if type(value) is not str or value not in allowed:
            raise Skip
        return value

    return check


def boolean(value):
    if type(value) is not bool:
        raise Skip
    return value


def query_int(low: int, high: int):
    """A page number or size from the query string: ASCII digits within bounds."""

    def check(value):
        number = parse_ascii_int(value)
        if number is None or not low <= number <= high:
            raise Skip
        return number

    return check


@dataclass(frozen=True)
class Field:
    check: Callable
    required: bool = True
    default: object = None


def body(request, fields: dict[str, Field]) -> dict:
    """The JSON object of the request, checked against `fields` (all known, the required present)."""
    if request.META.get("CONTENT_TYPE", "").lower() not in JSON_TYPES or request.META.get("QUERY_STRING"):
        raise Skip  # a query string on a POST (`?format=`) is DRF's to answer
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        raise Skip from None
    if not 0 < length <= settings.API_MAX_BODY_BYTES:
        raise Skip
    try:
        # Decoded as UTF-8 first, as the full parser does (json.loads of bytes would guess UTF-16 or
        # skip a byte order mark).
        data = json.loads(request.body.decode("utf-8"), parse_float=Decimal, parse_int=json_int, parse_constant=Decimal,
                          object_pairs_hook=json_object)
        json_depth_check(data)
    except (ValueError, RecursionError, ArithmeticError, UnicodeDecodeError):
        raise Skip from None
    if type(data) is not dict or not data.keys() <= fields.keys():
        raise Skip
    out = {}
    for name, field in fields.items():
        if name in data:
            out[name] = field.check(data[name])
        elif field.required:
            raise Skip
        else:
            out[name] = field.default
    return out


def query(request, fields: dict[str, Field]) -> dict:
    """The query string, each parameter once, all known, checked against `fields`."""
    params = request.GET
    if not params.keys() <= fields.keys():
        raise Skip
    out = {}
    for name, field in fields.items():
        values = params.getlist(name)
        if len(values) > 1:
            raise Skip
        if values:
            out[name] = field.check(values[0])
        elif field.required:
            raise Skip
        else:
            out[name] = field.default
    return out


# Who is calling.


def _columns(model, alias: str) -> tuple[list[str], str]:
    fields = model._meta.concrete_fields
    return [f.attname for f in fields], ", ".join(f"{alias}.{connection.ops.quote_name(f.column)}" for f in fields)


def _converters(model) -> list[tuple[int, object, list]]:
    """What the ORM applies to each column on the way in (the backend's, then the field's own: JSON,
    for one), as its compiler does."""
    out = []
    for i, field in enumerate(model._meta.concrete_fields):
        column = field.get_col(model._meta.db_table)
        converters = connection.ops.get_db_converters(column) + field.get_db_converters(connection)
        if converters:
            out.append((i, column, converters))
    return out


_CONVERTERS: dict = {}


def _model(model, names: list[str], values) -> object:
    """A model instance from a row of all its concrete fields, converted as the ORM converts them."""
    converters = _CONVERTERS.get(model)
    if converters is None:
        converters = _CONVERTERS[model] = _converters(model)
    if converters:
        values = list(values)
        for i, column, functions in converters:
            for convert in functions:
                values[i] = convert(values[i], column, connection)
    return model.from_db(connection.alias, names, values)


def _db_id(value: uuid.UUID):
    """A UUID as the database takes it."""
    return User._meta.pk.get_db_prep_value(value, connection)


_TENANT = _columns(Tenant, "t")
_KEY = _columns(ApiKey, "k")
_USER = _columns(User, "u")
_ACCOUNT = _columns(Account, "a")


def _table(model) -> str:
    return connection.ops.quote_name(model._meta.db_table)


_KEY_SQL = (
    f"SELECT {_KEY[1]}, {_TENANT[1]} FROM {_table(ApiKey)} k "
    f"JOIN {_table(Tenant)} t ON t.code = k.tenant_id WHERE k.prefix = %s AND k.is_active"
)


def api_client(request, dialect: str):
    """The `Api-Key` caller of a tenant of `dialect` (wallets.api.auth.ApiClient), read with its
    tenant in one statement on every request, as the full path reads it."""
    from wallets.api.auth import ApiClient

    scheme, _, raw = request.META.get("HTTP_AUTHORIZATION", "").partition(" ")
    parts = raw.split("_", 2)
    if scheme != "Api-Key" or len(parts) != 3 or parts[0] != API_KEY_PREFIX:
        raise Skip
    with connection.cursor() as cursor:
        cursor.execute(_KEY_SQL, [parts[1]])
        row = cursor.fetchone()
    if row is None:
        raise Skip
    n = len(_KEY[0])
    key = _model(ApiKey, _KEY[0], row[:n])
    if not hmac.compare_digest(key.key_hash, api_key_hash(raw)):
        raise Skip
    tenant = _model(Tenant, _TENANT[0], row[n:])
    if tenant.dialect != dialect:
        raise Skip
    key.tenant = tenant
    return ApiClient(key)


_USER_WALLET_SQL = (
    f"SELECT {_USER[1]}, {_TENANT[1]}, {_ACCOUNT[1]} FROM {_table(User)} u "
    f"JOIN {_table(Tenant)} t ON t.code = u.tenant_id "
    f"JOIN {_table(Account)} a ON a.user_id = u.id AND a.tenant_id = u.tenant_id "
    f"AND a.kind = 'wallet' AND a.currency = %s WHERE u.id = %s"
)


_VERIFIED: dict[str, tuple[uuid.UUID, int]] = {}  # raw token -> (user id, expiry in Unix seconds)
VERIFIED_MAX = 10_000


def _token_user(raw: str) -> uuid.UUID:
    """The user id of a valid access token. A token's signature, once checked, stays valid, so it
    is remembered (per process, at most VERIFIED_MAX tokens) until the token expires; the user itself
    is still read on every request, so a deactivated user is refused at once."""
    known = _VERIFIED.get(raw)
    if known is not None and known[1] > time.time():
        return known[0]
    try:
        token = AccessToken(raw)
    except TokenError:
        raise Skip from None
    user_id = parse_uuid(token.get(jwt_settings.USER_ID_CLAIM))
    if user_id is None:
        raise Skip
    if len(_VERIFIED) >= VERIFIED_MAX:
        _VERIFIED.clear()
    _VERIFIED[raw] = (user_id, int(token["exp"]))
    return user_id


def end_user_wallet(request, currency: str) -> Account:
    """The wallet in `currency` of the TMR Land user signed in with a JWT (`Bearer`), read with the
    user and its tenant in one statement; the user as `wallets.api.auth.is_end_user` wants them."""
    scheme, _, raw = request.META.get("HTTP_AUTHORIZATION", "").partition(" ")
    if scheme != "Bearer" or not raw:
        raise Skip
    user_id = _token_user(raw)
    with connection.cursor() as cursor:
        cursor.execute(_USER_WALLET_SQL, [currency, _db_id(user_id)])
        row = cursor.fetchone()
    if row is None:
        raise Skip  # no such user, or no wallet in that currency: the full view says which
    u, t = len(_USER[0]), len(_USER[0]) + len(_TENANT[0])
    user = _model(User, _USER[0], row[:u])
    tenant = _model(Tenant, _TENANT[0], row[u:t])
    if not user.is_active or user.is_staff or user.is_superuser or tenant.dialect != Tenant.Dialect.TMR:
        raise Skip
    user.tenant = tenant
    wallet = _model(Account, _ACCOUNT[0], row[t:])
    wallet.user, wallet.tenant = user, tenant
    return wallet


# Answers.


_renderer = DecimalJSONRenderer()


def respond(data, status: int = 200, allow: str = "POST, OPTIONS") -> HttpResponse:
    """The full view's JSON (its renderer: exact decimals, compact), with DRF's `Allow`."""
    response = HttpResponse(_renderer.render(data), status=status, content_type="application/json")
    response["Allow"] = allow
    return response


def refused(request, exc: DomainError, allow: str = "POST, OPTIONS") -> HttpResponse:
    """A service's refusal, as the full view's exception handler answers it."""
    body, status = domain_refusal(exc, request)
    return respond(body, status, allow)


def iso_time(value: datetime) -> str:
    """A time as DRF's DateTimeField writes it (UTC, `Z`)."""
    text = value.astimezone(timezone.utc).isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def optional_time(value: datetime | None) -> str | None:
    return None if value is None else iso_time(value)


@dataclass(frozen=True)
class LeanRoute:
    """How a view's hot method is answered without DRF: `handle(request, *args)` returns the response,
    or raises Skip (the full view answers instead)."""

    method: str
    handle: Callable
    allow: str = "POST, OPTIONS"


def lean_view(route: LeanRoute, full_view):
    """The view function: the lean answer when the request is an ordinary one, else the full view's."""

    def view(request, *args, **kwargs):
        if (
            request.method == route.method
            and "HTTP_IDEMPOTENCY_KEY" not in request.META
            and request.META.get("HTTP_ACCEPT", "*/*") in ACCEPTED
        ):
            try:
                return route.handle(request, *args, **kwargs)
            except Skip:
                pass
            except DomainError as exc:
                return refused(request, exc, route.allow)
        return full_view(request, *args, **kwargs)

    # What Django, DRF and the schema generator read off a view function (view_class, cls, csrf_exempt, ...).
    functools.update_wrapper(view, full_view)
    view.full_view = full_view
    return view
