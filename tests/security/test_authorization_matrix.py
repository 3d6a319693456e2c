"""Who may call what: every endpoint of the URL map, with every method its view answers, called by
every kind of caller, against the table below (SPEC §3, docs/tenants.md).

The endpoints are read from Django's URL resolver, not from the table: an endpoint or a method added
to the URL map fails `test_the_matrix_names_every_endpoint_and_method` (and its own matrix case)
until a line here says who may call it. HEAD (wherever there is a GET) and OPTIONS (every API view)
are tested with their route's rule too. A wrong cell whose fix lies outside the API views is listed
in KNOWN_DEFECTS and must stay wrong until it is fixed (then the test asks for its line to go).

A caller the rule allows must reach the handler: any answer but 401 or 403 (the probe bodies are
mostly empty, so 400, 404 and 422 are expected). Every other caller gets 401 `not_authenticated` when
its credentials are missing, malformed, expired, forged, revoked or those of a deactivated user, and
403 `permission_denied` when they are valid but for another API; both in the `{"code", "message"}`
envelope (401 with `WWW-Authenticate`). No call answers 5xx. Whoever calls, no user's money moves and
no JWT caller's answer shows another user's ids, even when the request names them.

Tenants: `tests/tenants/test_isolation.py` runs every id-taking endpoint of both dialects (escrow of
two TMR-dialect tenants included) with another tenant's ids, `tests/events/test_endpoints.py` and
`tests/events/test_catch_up.py` do webhook endpoints and events between WeBuddy and TMR Land. What is
left, two TMR-dialect tenants' webhook endpoints and events, is in `tests/tenants/test_tmr_tenants.py`.
"""
import json
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import urlencode

import jwt
import pytest
from django.urls import URLResolver, get_resolver
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import AccessToken, RefreshToken

from kyc.models import KycSubmission
from kyc.services import kyc_submit
from tests.factories import make_api_key, make_user, make_wallet
from wallets.crypto import API_KEY_PREFIX
from wallets.models import Account, Entry, User

pytestmark = pytest.mark.django_db

# Kinds of caller. A rule says which kinds reach the handler; the others are refused as below.
ANONYMOUS = "anonymous"  # no credentials (or a scheme no authenticator reads)
BAD_JWT = "bad JWT"  # 401: expired, forged, garbled, a refresh token, a deactivated user's
BAD_KEY = "bad API key"  # 401: revoked, garbled, unknown, wrong secret
WALLET_USER = "wallet user"  # a TMR Land user's JWT
NOT_A_WALLET_USER = "JWT of a non-wallet user"  # a valid JWT of a WeBuddy user: valid, yet no wallet API's
WEBUDDY_KEY = "webuddy key"
TMR_KEY = "tmr key"
NO_CREDENTIALS = {ANONYMOUS, BAD_JWT, BAD_KEY}


@dataclass(frozen=True)
class Principal:
    name: str
    kind: str


PRINCIPALS = [
    Principal("no credentials", ANONYMOUS),
    Principal("unknown scheme (Basic)", ANONYMOUS),
    Principal("owner's JWT", WALLET_USER),
    Principal("another user's JWT", WALLET_USER),
    Principal("expired JWT", BAD_JWT),
    Principal("deactivated user's JWT", BAD_JWT),
    Principal("JWT signed with another key", BAD_JWT),
    Principal("refresh token as access token", BAD_JWT),
    Principal("garbled Bearer", BAD_JWT),
    Principal("Bearer without a token", BAD_JWT),
    Principal("WeBuddy user's JWT", NOT_A_WALLET_USER),
    Principal("webuddy key", WEBUDDY_KEY),
    Principal("tmr key", TMR_KEY),
    Principal("revoked webuddy key", BAD_KEY),
    Principal("revoked tmr key", BAD_KEY),
    Principal("garbled Api-Key", BAD_KEY),
    Principal("Api-Key with a wrong secret", BAD_KEY),
]

# What a call gets.
REACHES_HANDLER = "reaches the handler"
UNAUTHENTICATED = (401, "not_authenticated")
PERMISSION_DENIED = (403, "permission_denied")
BAD_SIGNATURE = (400, "invalid_signature")


@dataclass(frozen=True)
class Rule:
    """Who may call an endpoint, as a function of the caller's kind (and the method, for webhooks)."""

    name: str
    outcome: object  # (kind, method) -> REACHES_HANDLER or (status, code)

    def expect(self, kind: str, method: str):
        return self.outcome(kind, method)

    def __repr__(self) -> str:
        return self.name


def only(*kinds: str):
    """A protected endpoint: these kinds reach it; missing or bad credentials 401, other valid ones 403."""
    def outcome(kind, method):
        if kind in kinds:
            return REACHES_HANDLER
        return UNAUTHENTICATED if kind in NO_CREDENTIALS else PERMISSION_DENIED
    return outcome


WEBUDDY_SERVICE = Rule("webuddy key", only(WEBUDDY_KEY))
TMR_SERVICE = Rule("tmr key", only(TMR_KEY))
OWN_WALLET = Rule("wallet user's JWT, own wallet only", only(WALLET_USER))
# No credentials needed and the Authorization header is not read.
OPEN = Rule("anyone (header not read)", lambda kind, method: REACHES_HANDLER)
# No credentials needed; credentials that are sent must be valid.
OPEN_IF_SENT_VALID = Rule("anyone (bad credentials 401)", lambda kind, method: (
    UNAUTHENTICATED if kind in (BAD_JWT, BAD_KEY) else REACHES_HANDLER
))
# Anyone signs up to TMR Land; an Api-Key, if sent, must be a valid key of a TMR-dialect tenant.
SIGN_UP = Rule("anyone, or a tmr key (Bearer not read)", lambda kind, method: {
    BAD_KEY: UNAUTHENTICATED, WEBUDDY_KEY: PERMISSION_DENIED,
}.get(kind, REACHES_HANDLER))
# The gateway's signature over the body is the credential; the Authorization header is not read.
GATEWAY_SIGNED = Rule("gateway signature (header not read)", lambda kind, method: (
    BAD_SIGNATURE if method == "POST" else REACHES_HANDLER
))

# Operators' addresses only (METRICS_ALLOWED_IPS; others 404); the header is not read. The test client
# calls from 127.0.0.1, one of the default addresses.
OPERATOR_ADDRESS = Rule("operator's address (header not read)", lambda kind, method: REACHES_HANDLER)

# route (as in the URL map)                      methods          who may call it
MATRIX = {
    "healthz":                                   ("GET",          OPEN),
    "readyz":                                    ("GET",          OPEN),
    "metrics":                                   ("GET",          OPERATOR_ADDRESS),
    "api/schema/":                               ("GET",          OPEN_IF_SENT_VALID),
    "api/docs/":                                 ("GET",          OPEN_IF_SENT_VALID),
    # WeBuddy dialect: its partner backend's key, for every /v1 call
    "v1/users":                                  ("POST",         WEBUDDY_SERVICE),
    "v1/users/<str:user_id>":                    ("GET PATCH",    WEBUDDY_SERVICE),
    "v1/wallet/recharge":                        ("POST",         WEBUDDY_SERVICE),
    "v1/wallet/recharge/verify":                 ("POST",         WEBUDDY_SERVICE),
    "v1/wallet/recharge/<str:recharge_id>":      ("GET",          WEBUDDY_SERVICE),
    "v1/wallet/history":                         ("GET",          WEBUDDY_SERVICE),
    "v1/wallet/monitors":                        ("GET POST",     WEBUDDY_SERVICE),
    "v1/wallet/monitors/<str:monitor_id>":       ("DELETE",       WEBUDDY_SERVICE),
    "v1/sessions/start":                         ("POST",         WEBUDDY_SERVICE),
    "v1/sessions/adjust":                        ("POST",         WEBUDDY_SERVICE),
    "v1/sessions/end":                           ("POST",         WEBUDDY_SERVICE),
    "v1/sessions/<str:session_id>":              ("GET",          WEBUDDY_SERVICE),
    "v1/payouts/manual":                         ("POST",         WEBUDDY_SERVICE),
    "v1/payouts/monthly":                        ("POST",         WEBUDDY_SERVICE),
    "v1/payouts/<str:payout_id>":                ("GET",          WEBUDDY_SERVICE),
    "v1/experts/bank-details":                   ("POST",         WEBUDDY_SERVICE),
    "v1/experts/<str:expert_id>/bank-details":   ("GET",          WEBUDDY_SERVICE),
    "v1/webhook-endpoints":                      ("GET POST",     WEBUDDY_SERVICE),
    "v1/webhook-endpoints/<str:endpoint_id>":    ("DELETE",       WEBUDDY_SERVICE),
    "v1/events":                                 ("GET",          WEBUDDY_SERVICE),
    # Payment gateways: signed bodies, no API key
    "v1/webhooks/razorpay":                      ("POST",         GATEWAY_SIGNED),
    "v1/webhooks/stripe":                        ("POST",         GATEWAY_SIGNED),
    # TMR Land: sign-up and tokens
    "api/v1/auth/register":                      ("POST",         SIGN_UP),
    "api/v1/auth/token":                         ("POST",         OPEN),
    "api/v1/auth/token/refresh":                 ("POST",         OPEN),
    # TMR Land: the signed-in user's own wallet and KYC
    "api/v1/wallet":                             ("GET",          OWN_WALLET),
    "api/v1/wallet/charge":                      ("POST",         OWN_WALLET),
    "api/v1/wallet/withdraw":                    ("POST",         OWN_WALLET),
    "api/v1/wallet/transactions":                ("GET",          OWN_WALLET),
    "api/v1/wallet/kyc":                         ("GET POST",     OWN_WALLET),
    # TMR Land: the orders service's key (escrow, webhook endpoints, events)
    "api/v1/wallet/escrow/freeze":               ("POST",         TMR_SERVICE),
    "api/v1/wallet/escrow/release":              ("POST",         TMR_SERVICE),
    "api/v1/wallet/escrow/cancel":               ("POST",         TMR_SERVICE),
    "api/v1/wallet/webhook-endpoints":           ("GET POST",     TMR_SERVICE),
    "api/v1/wallet/webhook-endpoints/<str:endpoint_id>": ("DELETE", TMR_SERVICE),
    "api/v1/wallet/events":                      ("GET",          TMR_SERVICE),
    # Django admin: a staff session (tests/admin); API credentials never open it
    "admin/":                                    ("*",            None),
}

ADMIN = "admin/"
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")
UNKNOWN_ID = "0190a000-0000-7000-8000-000000000000"


def url_map() -> dict[str, object]:
    """Every route of the URL map with its view (the admin site as one route)."""
    found = {}

    def walk(patterns, prefix):
        for pattern in patterns:
            route = prefix + str(pattern.pattern)
            if isinstance(pattern, URLResolver):
                if pattern.app_name == "admin":
                    found[route] = None
                else:
                    walk(pattern.url_patterns, route)
            else:
                found[route] = pattern.callback

    walk(get_resolver().url_patterns, "")
    return found


def handler_methods(view) -> set[str] | None:
    """The methods a class-based view has a handler for (HEAD and OPTIONS aside); None for a function."""
    cls = getattr(view, "view_class", None)
    if cls is None:
        return None
    return {m.upper() for m in cls.http_method_names if m not in ("head", "options") and hasattr(cls, m)}


def classified_methods(route: str) -> set[str]:
    return set(MATRIX[route][0].split()) if route in MATRIX else set()


def methods_of(route: str, view) -> list[str]:
    """What the matrix calls a route with: its view's handlers, HEAD where there is a GET and OPTIONS
    (every class-based view answers both); a function view's classified methods."""
    handlers = handler_methods(view)
    if handlers is None:
        return sorted(classified_methods(route) or {"GET"})
    return sorted(handlers | {"OPTIONS"} | ({"HEAD"} if "GET" in handlers else set()))


# Cells the matrix finds wrong and that are reported but not fixed yet (their fix is outside the
# API views): each must still be wrong, so the line goes when it is fixed.
KNOWN_DEFECTS: dict[tuple[str, str], str] = {}


# The cast: two wallet users with money, KYC and history, a deactivated one, a WeBuddy user, keys.


@dataclass
class Person:
    user: User
    wallet: Account
    kyc_name: str

    def markers(self) -> list[str]:
        """What would show this person's data in an answer."""
        return [str(self.user.pk), str(self.wallet.pk), self.kyc_name]


@dataclass
class Cast:
    owner: Person
    other: Person
    headers: dict[str, str | None]

    def money(self) -> dict[str, tuple]:
        """Each wallet user's balances, number of entries and KYC submissions, by name."""
        people = {p.user.pk: p.kyc_name for p in (self.owner, self.other)}
        wallets, kyc = defaultdict(list), defaultdict(list)
        for user_id, *row in Account.objects.filter(user_id__in=people).order_by("pk").values_list(
                "user_id", "pk", "balance", "held_balance"):
            wallets[user_id].append(row)
        entries = Counter(
            Entry.objects.filter(account__user_id__in=people).values_list("account__user_id", flat=True))
        for user_id, *row in KycSubmission.objects.filter(user_id__in=people).order_by("pk").values_list(
                "user_id", "pk", "status"):
            kyc[user_id].append(row)
        return {name: (wallets[pk], entries[pk], kyc[pk]) for pk, name in people.items()}

    def person_of(self, principal: Principal) -> Person | None:
        return {"owner's JWT": self.owner, "another user's JWT": self.other}.get(principal.name)


def wallet_user(name: str) -> Person:
    user = make_user(tenant="tmr")
    wallet = make_wallet(currency="USD", balance=100, user=user)
    kyc_submit(user=user, full_name=name, id_type="passport", id_number="E12345678")
    return Person(user, wallet, name)


def bearer(user: User) -> str:
    return f"Bearer {AccessToken.for_user(user)}"


@pytest.fixture
def cast() -> Cast:
    owner, other = wallet_user("Aurelia Owner"), wallet_user("Bruno Other")
    inactive = make_user(tenant="tmr")
    inactive_header = bearer(inactive)
    User.objects.filter(pk=inactive.pk).update(is_active=False)
    expired = AccessToken.for_user(owner.user)
    expired.set_exp(lifetime=-timedelta(seconds=1))
    forged = jwt.encode(
        {"token_type": "access", "user_id": str(owner.user.pk), "exp": 9999999999, "jti": "forged"},
        "another-signing-key-of-32-bytes!", algorithm="HS256",
    )
    revoked = {}
    for scope in ("webuddy", "tmr"):
        key, raw = make_api_key(scope, name=f"retired {scope} service")
        key.is_active = False
        key.save(update_fields=["is_active"])
        revoked[scope] = raw
    tmr_key, tmr_raw = make_api_key("tmr")
    return Cast(owner, other, {
        "no credentials": None,
        "unknown scheme (Basic)": "Basic dXNlcjpwYXNzd29yZA==",
        "owner's JWT": bearer(owner.user),
        "another user's JWT": bearer(other.user),
        "expired JWT": f"Bearer {expired}",
        "deactivated user's JWT": inactive_header,
        "JWT signed with another key": f"Bearer {forged}",
        "refresh token as access token": f"Bearer {RefreshToken.for_user(owner.user)}",
        "garbled Bearer": "Bearer not.a.jwt",
        "Bearer without a token": "Bearer",
        "WeBuddy user's JWT": bearer(make_user(tenant="webuddy")),
        "webuddy key": f"Api-Key {make_api_key('webuddy')[1]}",
        "tmr key": f"Api-Key {tmr_raw}",
        "revoked webuddy key": f"Api-Key {revoked['webuddy']}",
        "revoked tmr key": f"Api-Key {revoked['tmr']}",
        "garbled Api-Key": "Api-Key not-a-key",
        "Api-Key with a wrong secret": f"Api-Key {API_KEY_PREFIX}_{tmr_key.prefix}_not-the-secret",
    })


def probe(route: str, victim: Person) -> tuple[dict, dict]:
    """(query, body) of a call naming the victim's ids, which no endpoint should take from a caller;
    the wallet routes get bodies that would move money, so a wrong wallet would show."""
    user_id, wallet_id = str(victim.user.pk), str(victim.wallet.pk)
    names = {"user_id": user_id, "wallet_id": wallet_id, "userId": user_id}
    extra = {
        "api/v1/wallet/charge": {"amount": 5, "currency": "USD"},
        "api/v1/wallet/withdraw": {"amount": 1, "currency": "USD"},
        "api/v1/wallet/kyc": {"full_name": "Mallory", "id_type": "passport", "id_number": "X1234567"},
    }.get(route, {})
    return names, {**names, **extra}


def send(route: str, method: str, header: str | None, query: dict, body: dict):
    url = "/" + route.replace("<str:", "<")
    while "<" in url:
        start = url.index("<")
        url = url[:start] + UNKNOWN_ID + url[url.index(">", start) + 1:]
    extra = {"HTTP_AUTHORIZATION": header} if header is not None else {}
    client = APIClient(raise_request_exception=False)  # a server error is an answer to judge here
    if method in ("GET", "HEAD", "OPTIONS", "DELETE"):
        return client.generic(method, f"{url}?{urlencode(query)}", **extra)
    return client.generic(method, url, json.dumps(body), content_type="application/json", **extra)


def verdict(response, method: str, expected) -> str | None:
    """What is wrong with the answer, or None."""
    status = response.status_code
    if status >= 500:
        return f"{status}: a server error"
    if expected == REACHES_HANDLER:
        if status in (401, 403):
            return f"{_said(response)}: refused, but this caller may call it"
    elif status != expected[0]:
        return f"{_said(response)}: expected {expected[0]} {expected[1]}"
    if status == 401 and not response.get("WWW-Authenticate"):
        return "401 without WWW-Authenticate"
    if method == "HEAD" or status < 400:
        return None
    if not response.get("Content-Type", "").startswith("application/json"):
        return f"{status} as {response.get('Content-Type')}, not the JSON error envelope"
    body = response.json()
    keys = {"code", "message"} if status in (401, 403) else {"code", "message", "fields"}
    if not isinstance(body, dict) or not {"code", "message"} <= set(body) <= keys:
        return f"{status} with {body!r}, not the error envelope"
    if expected != REACHES_HANDLER and body["code"] != expected[1]:
        return f"{status} {body['code']}: expected {expected[1]}"
    message = body["message"]
    if not isinstance(message, str) or not message or "ErrorDetail" in message or message.startswith("{"):
        return f"{status} with message {message!r}, not a sentence"
    return None


def _said(response) -> str:
    """The status and, for an error envelope, its code."""
    try:
        code = response.json().get("code", "")
    except (ValueError, AttributeError):
        code = ""
    return f"{response.status_code} {code}".strip()


@pytest.mark.parametrize("route", [pytest.param(r, id=f"/{r}") for r in url_map() if r != ADMIN])
def test_who_may_call_each_endpoint(cast, route):
    assert route in MATRIX, f"/{route} is not in the authorization matrix: add it with who may call it"
    rule = MATRIX[route][1]
    wrong = []
    money = cast.money()
    for method in methods_of(route, url_map()[route]):
        cell = []
        for principal in PRINCIPALS:
            me = cast.person_of(principal)
            victim = cast.other if me is cast.owner else cast.owner
            query, body = probe(route, victim)

            response = send(route, method, cast.headers[principal.name], query, body)

            problem = verdict(response, method, rule.expect(principal.kind, method))
            after = cast.money()
            moved = [p.kyc_name for p in (cast.owner, cast.other)
                     if p is not me and after[p.kyc_name] != money[p.kyc_name]]
            money = after
            if problem is None and moved:
                problem = f"{_said(response)}: the money or KYC of {moved} changed"
            if problem is None and principal.kind in (WALLET_USER, NOT_A_WALLET_USER):
                text = response.content.decode(errors="replace")
                shown = [m for p in (cast.owner, cast.other) if p is not me for m in p.markers() if m in text]
                if shown:
                    problem = f"{_said(response)}: the answer shows another user's {shown}"
            if problem is not None:
                cell.append(f"  {method} by {principal.name} ({principal.kind}): {problem}")
        if (route, method) in KNOWN_DEFECTS:
            if not cell:
                wrong.append(f"  {method}: fixed, take it out of KNOWN_DEFECTS")
        else:
            wrong += cell
    assert not wrong, f"/{route} ({rule}):\n" + "\n".join(wrong)


def test_the_matrix_names_every_endpoint_and_method():
    found = url_map()
    unclassified = sorted(set(found) - set(MATRIX))
    gone = sorted(set(MATRIX) - set(found))
    differ = {
        route: sorted(handler_methods(view))
        for route, view in found.items()
        if route in MATRIX and route != ADMIN and handler_methods(view) is not None
        and handler_methods(view) != classified_methods(route)
    }
    assert (unclassified, gone, differ) == ([], [], {}), "the URL map and the matrix differ"


def test_function_views_answer_only_their_classified_methods():
    for route, view in url_map().items():
        if route == ADMIN or handler_methods(view) is not None:
            continue
        for method in METHODS:
            status = send(route, method, None, {}, {}).status_code
            allowed = method in classified_methods(route)
            assert (status != 405) == allowed, f"{method} /{route}: {status}"


def test_api_credentials_never_open_the_admin(cast):
    for principal in PRINCIPALS:
        response = send("admin/", "GET", cast.headers[principal.name], {}, {})
        login = response["Location"].split("?")[0] if response.status_code == 302 else None
        assert (response.status_code, login) == (302, "/admin/login/"), principal.name
