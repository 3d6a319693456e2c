"""A corpus of bad request bodies sent to every POST and PATCH endpoint of both dialects, the payment
providers' webhooks and the client webhook endpoints included.

Each endpoint has a valid base body (checked to be accepted as it is); each defect changes one thing
in it: malformed JSON, a wrong content type, a key twice, an unknown field, a field of the wrong JSON
type, an amount of NaN / Infinity / 1e400 / -0 / "0.001" / "1,000", a 10 kB string, control
characters (NUL included), an id that is no UUID, or SQL- and HTML-looking or non-Latin text where
the field has a format. Every one must be a 4xx with the error envelope (a validation error is 400
in WeBuddy, 422 in TMR Land) and must leave every balance, and the journal, exactly as it was.

The endpoints are read from the URL map, so that a new POST or PATCH endpoint without a base body
here fails `test_every_post_and_patch_endpoint_has_a_base_body`.
"""
import hashlib
import hmac
import itertools
import json
import re
import time
import uuid
from dataclasses import dataclass, replace
from decimal import Decimal
from urllib.parse import quote, urlencode

import pytest
from django.urls import URLResolver, get_resolver
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import RefreshToken

from experts.services import bank_detail_add
from sessions_app.services import session_start
from tests.factories import make_api_key, tenant
from tests.invariants import assert_ledger_invariants
from wallets.models import Account, Entry, JournalTransaction
from wallets.recovery import NO_RECOVERY
from wallets.services import postings, recharges, users
from wallets.services.escrow import escrow_freeze

pytestmark = pytest.mark.django_db

PASSWORD = "correct-horse-battery-9"
RAZORPAY_SECRET = "rzp_webhook_secret_for_tests"
STRIPE_SECRET = "whsec_for_tests"
_serial = itertools.count(1)


# What exists, for the base bodies to be about


class World:
    def __init__(self):
        self.webuddy_key = make_api_key("webuddy")[1]
        self.tmr_key = make_api_key("tmr")[1]
        self.customer = self.webuddy_user(funds=10_000)
        self.expert = self.webuddy_user(funds=5_000)
        self.bank = bank_detail_add(expert=self.expert, bank_name="HDFC Bank", account_number="123456789012",
                                    ifsc_code="HDFC0001234", account_holder_name="Ravi Kumar")
        self.session = session_start(tenant=tenant("webuddy"), user_id=self.customer.pk, expert_id=self.expert.pk,
                                     session_fee=Decimal(100))
        self.recharge, _ = recharges.recharge_create(tenant=tenant("webuddy"), user_id=self.customer.pk, amount=Decimal(50),
                                                     payment_method="RAZORPAY", recovery=NO_RECOVERY)
        self.buyer = users.user_register(tenant=tenant("tmr"), username=f"buyer{next(_serial)}", password=PASSWORD)
        postings.wallet_deposit(wallet=Account.objects.get(user=self.buyer, currency="USD"), amount=Decimal(1_000))
        self.payee = users.user_register(tenant=tenant("tmr"), username=f"payee{next(_serial)}", password=PASSWORD)
        self.order_id = f"order-{uuid.uuid4()}"
        escrow_freeze(tenant=tenant("tmr"), user_id=self.buyer.pk, order_id=self.order_id, amount=Decimal(150),
                      currency="USD")
        self.refresh = RefreshToken.for_user(self.buyer)

    @staticmethod
    def webuddy_user(*, funds):
        user = users.user_create(tenant=tenant("webuddy"), phone_number=f"+9195{next(_serial):08d}")
        postings.wallet_deposit(wallet=Account.objects.get(user=user), amount=Decimal(funds))
        return user

    def client(self, auth: str | None) -> APIClient:
        client = APIClient(raise_request_exception=False)  # a 500 is an answer to report, like any other
        credential = {
            "webuddy": f"Api-Key {self.webuddy_key}", "tmr": f"Api-Key {self.tmr_key}",
            "jwt": f"Bearer {self.refresh.access_token}", None: None,
        }[auth]
        if credential:
            client.credentials(HTTP_AUTHORIZATION=credential)
        return client


# The endpoints, each with a valid body and what kind of value each field holds

ID, AMOUNT, FORMAT, TEXT, FLAG, JSON_VALUE = "id", "amount", "format", "text", "flag", "json"


@dataclass
class Endpoint:
    method: str
    route: str  # as the URL map writes it
    auth: str | None
    body: object  # World -> dict
    kinds: dict  # field -> ID | AMOUNT | FORMAT | TEXT | FLAG | JSON_VALUE
    path: object = None  # World -> {path parameter: value}
    webhook: str | None = None  # the provider whose signature the body carries
    optional: tuple = ()  # fields a valid body may leave out

    @property
    def label(self) -> str:
        return f"{self.method} {self.route}"

    @property
    def validation_status(self) -> int:
        return 422 if self.route.startswith("/api/v1/") else 400

    def url(self, world, path_values: dict | None = None) -> str:
        values = {**(self.path(world) if self.path else {}), **(path_values or {})}
        return re.sub(r"<(?:\w+:)?(\w+)>", lambda m: quote(str(values[m.group(1)]), safe=""), self.route)


def fresh(prefix: str) -> str:
    return f"{prefix}{next(_serial)}"


def razorpay_event(world) -> dict:
    return {"entity": "event", "event": "payment.captured", "account_id": "acc_test", "created_at": int(time.time()),
            "payload": {"payment": {"entity": {"id": fresh("pay_"), "order_id": fresh("order_"), "amount": 5000,
                                               "currency": "INR", "status": "captured"}}}}


def stripe_event(world) -> dict:
    return {"id": fresh("evt_"), "object": "event", "type": "payment_intent.succeeded", "created": int(time.time()),
            "data": {"object": {"id": fresh("pi_"), "object": "payment_intent", "amount": 5000, "currency": "inr",
                                "status": "succeeded"}}}


ENDPOINTS = [
    Endpoint("POST", "/v1/users", "webuddy",
             lambda w: {"phoneNumber": f"+9194{next(_serial):08d}", "name": "Asha", "max_credits": 100,
                        "settings": {"lang": "en"}},
             {"phoneNumber": FORMAT, "name": TEXT, "max_credits": AMOUNT, "settings": JSON_VALUE},
             optional=("name", "max_credits", "settings")),
    Endpoint("PATCH", "/v1/users/<str:user_id>", "webuddy",
             lambda w: {"phoneNumber": f"+9193{next(_serial):08d}", "name": "Asha R", "max_credits": 50, "settings": {}},
             {"phoneNumber": FORMAT, "name": TEXT, "max_credits": AMOUNT, "settings": JSON_VALUE},
             path=lambda w: {"user_id": w.customer.pk}),
    Endpoint("POST", "/v1/wallet/recharge", "webuddy",
             lambda w: {"userId": str(w.customer.pk), "amount": 500, "paymentMethod": "RAZORPAY"},
             {"userId": ID, "amount": AMOUNT, "paymentMethod": FORMAT}),
    Endpoint("POST", "/v1/wallet/recharge/verify", "webuddy",
             lambda w: {"rechargeId": str(w.recharge.pk), "razorpayOrderId": "order_1", "razorpayPaymentId": "pay_1",
                        "razorpaySignature": "0" * 64},
             {"rechargeId": ID, "razorpayOrderId": TEXT, "razorpayPaymentId": TEXT, "razorpaySignature": TEXT}),
    Endpoint("POST", "/v1/wallet/monitors", "webuddy",
             lambda w: {"userId": str(w.customer.pk), "below": 100},
             {"userId": ID, "below": AMOUNT}),
    Endpoint("POST", "/v1/sessions/start", "webuddy",
             lambda w: {"userId": str(w.customer.pk), "expertId": str(w.expert.pk), "sessionFee": 100},
             {"userId": ID, "expertId": ID, "sessionFee": AMOUNT}),
    Endpoint("POST", "/v1/sessions/adjust", "webuddy",
             lambda w: {"sessionId": str(w.session.pk), "adjustedFee": 120, "deferFee": False},
             {"sessionId": ID, "adjustedFee": AMOUNT, "deferFee": FLAG}, optional=("deferFee",)),
    Endpoint("POST", "/v1/sessions/end", "webuddy",
             lambda w: {"sessionId": str(w.session.pk), "expertId": str(w.expert.pk), "actualFee": 150},
             {"sessionId": ID, "expertId": ID, "actualFee": AMOUNT}),
    Endpoint("POST", "/v1/payouts/manual", "webuddy",
             lambda w: {"expertId": str(w.expert.pk), "amount": 1000, "bankAccount": str(w.bank.pk),
                        "paymentMethod": "RAZORPAY"},
             {"expertId": ID, "amount": AMOUNT, "bankAccount": ID, "paymentMethod": FORMAT}),
    Endpoint("POST", "/v1/payouts/monthly", "webuddy",
             lambda w: {"expertId": str(w.expert.pk), "month": "2025-06", "payoutThreshold": 5000},
             {"expertId": ID, "month": FORMAT, "payoutThreshold": AMOUNT}, optional=("payoutThreshold",)),
    Endpoint("POST", "/v1/experts/bank-details", "webuddy",
             lambda w: {"expertId": str(w.expert.pk), "bankName": "HDFC Bank", "accountNumber": f"5{next(_serial):011d}",
                        "ifscCode": "HDFC0001234", "accountHolderName": "Ravi Kumar", "branchName": "Andheri"},
             {"expertId": ID, "bankName": TEXT, "accountNumber": FORMAT, "ifscCode": FORMAT, "accountHolderName": TEXT,
              "branchName": TEXT}, optional=("branchName",)),
    Endpoint("POST", "/v1/webhook-endpoints", "webuddy",
             lambda w: {"url": "https://hooks.example.com/wallet", "events": []},
             {"url": FORMAT, "events": JSON_VALUE}, optional=("events",)),
    # The fields of an event that are read; a provider's event type is its own text.
    Endpoint("POST", "/v1/webhooks/razorpay", None, razorpay_event,
             {"event": TEXT, "payload": JSON_VALUE}, webhook="razorpay"),
    Endpoint("POST", "/v1/webhooks/stripe", None, stripe_event,
             {"id": TEXT, "type": TEXT, "data": JSON_VALUE}, webhook="stripe"),
    Endpoint("POST", "/api/v1/auth/register", None,
             lambda w: {"username": fresh("newcomer"), "password": PASSWORD},
             {"username": TEXT, "password": TEXT}),
    Endpoint("POST", "/api/v1/auth/token", None,
             lambda w: {"username": w.buyer.username, "password": PASSWORD},
             {"username": TEXT, "password": TEXT}),
    Endpoint("POST", "/api/v1/auth/token/refresh", None,
             lambda w: {"refresh": str(w.refresh)},
             {"refresh": FORMAT}),
    Endpoint("POST", "/api/v1/wallet/charge", "jwt",
             lambda w: {"amount": 10, "currency": "USD"},
             {"amount": AMOUNT, "currency": FORMAT}, optional=("currency",)),
    Endpoint("POST", "/api/v1/wallet/withdraw", "jwt",
             lambda w: {"amount": 5, "currency": "USD"},
             {"amount": AMOUNT, "currency": FORMAT}, optional=("currency",)),
    Endpoint("POST", "/api/v1/wallet/kyc", "jwt",
             lambda w: {"full_name": "Zhang Ming", "id_type": "national_id", "id_number": "310101199001011234"},
             {"full_name": TEXT, "id_type": FORMAT, "id_number": FORMAT}),
    Endpoint("POST", "/api/v1/wallet/escrow/freeze", "tmr",
             lambda w: {"user_id": str(w.buyer.pk), "order_id": fresh("order-"), "amount": 10, "currency": "USD"},
             {"user_id": ID, "order_id": TEXT, "amount": AMOUNT, "currency": FORMAT}, optional=("currency",)),
    Endpoint("POST", "/api/v1/wallet/escrow/release", "tmr",
             lambda w: {"order_id": w.order_id, "payee_id": str(w.payee.pk)},
             {"order_id": ID, "payee_id": ID}),
    Endpoint("POST", "/api/v1/wallet/escrow/cancel", "tmr",
             lambda w: {"order_id": w.order_id},
             {"order_id": ID}),
    Endpoint("POST", "/api/v1/wallet/webhook-endpoints", "tmr",
             lambda w: {"url": "https://hooks.example.com/tmr", "events": []},
             {"url": FORMAT, "events": JSON_VALUE}, optional=("events",)),
]
BY_LABEL = {endpoint.label: endpoint for endpoint in ENDPOINTS}


# The defects


@dataclass
class Request:
    """One bad request: its body as sent, its content type, and what the answer must be."""

    name: str
    raw: str
    content_type: str = "application/json"
    status: int | None = None  # None: any 4xx
    code: str | None = None
    field: str | None = None  # the field a validation error must name
    encoding: str = "strict"
    signature_secret: str | None = None  # a webhook body signed with this secret (None: unsigned)
    path_values: dict | None = None  # path parameters other than the base's


def dumps(body) -> str:
    return json.dumps(body, ensure_ascii=False, default=str)


def with_raw(body: dict, name: str, raw_value: str) -> str:
    """The body as JSON with the value of `name` written as `raw_value` exactly (NaN, 1e400, -0, ...)."""
    marker = f"__raw_{uuid.uuid4().hex}__"
    return dumps({**body, name: marker}).replace(f'"{marker}"', raw_value)


WRONG_TYPE = {str: 12345, bool: "true", int: "10", Decimal: "10", dict: ["a"], list: {"a": 1}}
RAW_AMOUNTS = ["NaN", "Infinity", "-Infinity", "1e400", "-1e400", "-0", "-0.0", '"0.001"', '"1,000"', '"10"', "0.001",
               "-5", "1e-400", "true", "null"]
NOT_IDS = ["not-a-uuid", "1; DROP TABLE wallets_account; --", "' OR '1'='1", "<script>alert(1)</script>",
                  "ユーザー", "١٢٣٤", "00000000-0000-0000-0000-000000000000", str(uuid.UUID(int=12345))]
FORMATTED_TEXTS = ["1; DROP TABLE wallets_account; --", "<img src=x onerror=alert(1)>", "ユーザー ١٢٣"]
CONTROL_TEXTS = ["a\u0000b", "\u0000", "line\nbreak", "esc\u001b[31m", "del\u007f", "bell\u0007"]


def defects(endpoint: Endpoint, world: World) -> list[Request]:
    """Every bad variant of the endpoint's valid request."""
    body = endpoint.body(world)
    v, text = endpoint.validation_status, dumps(body)
    first = next(iter(body))
    found = [
        Request("malformed JSON: cut short", text[:-1], status=v, code="malformed_json"),
        Request("malformed JSON: single quotes", text.replace('"', "'"), status=v, code="malformed_json"),
        Request("malformed JSON: trailing comma", text[:-1] + ",}", status=v, code="malformed_json"),
        Request("malformed JSON: not UTF-8", text.replace("}", "\udcff}"), status=v, code="malformed_json",
                encoding="surrogateescape"),
        Request("malformed JSON: raw 1,000", text[:-1] + ', "n": 1,000}', status=v, code="malformed_json"),
        Request("not an object: a list", f"[{text}]", status=v),
        Request("not an object: a string", json.dumps(text), status=v),
        Request("wrong content type: text/plain", text, content_type="text/plain", status=415,
                code="unsupported_media_type"),
        Request("wrong content type: form", urlencode({k: str(x) for k, x in body.items()}),
                content_type="application/x-www-form-urlencoded", status=415, code="unsupported_media_type"),
        Request("wrong content type: multipart", text, content_type="multipart/form-data; boundary=x", status=415,
                code="unsupported_media_type"),
        Request(f"duplicate key {first}", text[:-1] + f", {json.dumps(first)}: {dumps(body[first])}}}", status=v,
                code="malformed_json"),
    ]
    if endpoint.method == "POST":  # an empty PATCH changes nothing, and says so
        found.append(Request("empty body", "", status=v))
    if not endpoint.webhook:  # providers add fields to their events at will
        found.append(Request("unknown field", dumps({**body, "unexpected": 1}), status=v, code="validation_error",
                             field="unexpected"))
        found.append(Request("unknown field: empty name", dumps({**body, "": 1}), status=v, code="validation_error"))
    for name, kind in endpoint.kinds.items():
        if name not in body:
            continue
        value = body[name]
        wrong = WRONG_TYPE[type(value)]
        found.append(Request(f"{name}: wrong type {type(wrong).__name__}", dumps({**body, name: wrong}), status=v,
                             field=name))
        found.append(Request(f"{name}: null", dumps({**body, name: None}), status=v))
        if endpoint.method == "POST" and name not in endpoint.optional:
            found.append(Request(f"{name}: missing", dumps({k: x for k, x in body.items() if k != name}), status=v))
        if kind == AMOUNT:
            for raw_value in RAW_AMOUNTS:
                found.append(Request(f"{name}: {raw_value}", with_raw(body, name, raw_value), status=v))
        if kind in (ID, FORMAT, TEXT) and isinstance(value, str):
            found.append(Request(f"{name}: 10 kB", dumps({**body, name: "x" * 10_240})))
            for bad in CONTROL_TEXTS:
                found.append(Request(f"{name}: control {bad!r}", dumps({**body, name: value + bad})))
            found.append(Request(f"{name}: lone surrogate", text.replace(json.dumps(value), '"\\ud800"', 1), status=v))
        if kind == ID:
            for bad in NOT_IDS:
                found.append(Request(f"{name}: {bad!r}", dumps({**body, name: bad})))
        if kind == FORMAT and isinstance(value, str):
            for bad in FORMATTED_TEXTS:
                found.append(Request(f"{name}: {bad!r}", dumps({**body, name: bad})))
    for name in endpoint.path(world) if endpoint.path else {}:
        for bad in [*NOT_IDS, "x" * 10_240, *CONTROL_TEXTS]:
            found.append(Request(f"path {name}: {bad[:40]!r}", text, path_values={name: bad}))
    if endpoint.webhook:
        found += [Request("NaN in the event", with_raw(body, "extra", "NaN"), status=v),
                  Request("Infinity in the event", with_raw(body, "extra", "-Infinity"), status=v)]
    return found


SECRETS = {"razorpay": RAZORPAY_SECRET, "stripe": STRIPE_SECRET}


def as_sent(endpoint: Endpoint, request: Request) -> list[tuple[Request, bool]]:
    """The request as it is sent, and whether a 200 that records the event is a fine answer too.

    A provider's body is sent unsigned and signed with another secret (refused before it is read),
    and signed: then what is read is refused, while an event that is merely unknown to us is
    recorded and answered 200 (as the providers expect), moving no money."""
    if not endpoint.webhook:
        return [(request, False)]
    refused = {"status": 400, "code": "invalid_signature", "field": None}
    return [
        (replace(request, name=f"{request.name}, unsigned", **refused), False),
        (replace(request, name=f"{request.name}, signed with another secret", signature_secret="not-the-secret",
                 **refused), False),
        (replace(request, name=f"{request.name}, signed", signature_secret=SECRETS[endpoint.webhook], status=None,
                 code=None, field=None), True),
    ]


def money_and_journal() -> tuple[dict, int, int]:
    """Every account's balances and status, and how many journal transactions and entries there are."""
    accounts = {row[0]: row[1:] for row in Account.objects.values_list("id", "balance", "held_balance", "status")}
    return accounts, JournalTransaction.objects.count(), Entry.objects.count()


def no_money_moved(before: tuple[dict, int, int], after: tuple[dict, int, int]) -> bool:
    """The journal is as it was and so is every account (a new wallet, empty, moves no money)."""
    (accounts, *journal), (now, *journal_now) = before, after
    new = set(now) - set(accounts)
    return journal == journal_now and all(now[i] == accounts[i] for i in accounts) and all(
        now[i][:2] == (0, 0) for i in new)


def send(world: World, endpoint: Endpoint, request: Request):
    client = world.client(endpoint.auth)
    raw = request.raw.encode("utf-8", request.encoding)
    headers = {}
    secret = request.signature_secret
    if endpoint.webhook == "razorpay":
        headers["HTTP_X_RAZORPAY_EVENT_ID"] = fresh("evt_")
        if secret:
            headers["HTTP_X_RAZORPAY_SIGNATURE"] = hmac.new(secret.encode(), raw, hashlib.sha256).hexdigest()
    elif endpoint.webhook == "stripe" and secret:
        t = int(time.time())
        digest = hmac.new(secret.encode(), f"{t}.".encode() + raw, hashlib.sha256).hexdigest()
        headers["HTTP_STRIPE_SIGNATURE"] = f"t={t},v1={digest}"
    call = getattr(client, endpoint.method.lower())
    return call(endpoint.url(world, request.path_values), data=raw, content_type=request.content_type, **headers)


def envelope_problem(response) -> str | None:
    try:
        body = response.json()
    except ValueError:
        return f"not JSON: {response.content[:200]!r}"
    if not isinstance(body, dict) or not set(body) <= {"code", "message", "fields"}:
        return f"not the envelope: {body!r}"
    if not isinstance(body.get("code"), str) or not re.fullmatch(r"[a-z][a-z0-9]*(_[a-z0-9]+)*", body["code"]):
        return f"code is not snake_case: {body!r}"
    if not isinstance(body.get("message"), str) or not body["message"]:
        return f"no message: {body!r}"
    if "fields" in body and not (isinstance(body["fields"], dict) and all(
            isinstance(m, list) and m and all(isinstance(s, str) for s in m) for m in body["fields"].values())):
        return f"fields are not lists of messages: {body!r}"
    return None


@pytest.fixture
def world(db, settings):
    settings.RAZORPAY_WEBHOOK_SECRET = RAZORPAY_SECRET
    settings.STRIPE_WEBHOOK_SECRET = STRIPE_SECRET
    return World()


# The URL map


def served_routes() -> set[str]:
    """`METHOD /route` of every POST and PATCH the URL map serves (the admin's own forms aside)."""
    probe = APIClient()
    found = set()

    def walk(patterns, prefix):
        for pattern in patterns:
            route = prefix + str(pattern.pattern)
            if isinstance(pattern, URLResolver):
                if not route.startswith("/admin/"):
                    walk(pattern.url_patterns, route)
                continue
            view_class = getattr(pattern.callback, "view_class", None)
            for method in ("POST", "PATCH"):
                if view_class is not None:
                    served = hasattr(view_class, method.lower()) and method.lower() in view_class.http_method_names
                else:  # a function view: ask it
                    url = re.sub(r"<(?:\w+:)?\w+>", str(uuid.uuid4()), route)
                    served = getattr(probe, method.lower())(url, data="{}", content_type="application/json").status_code != 405
                if served:
                    found.add(f"{method} {route}")

    walk(get_resolver().url_patterns, "/")
    return found


def test_every_post_and_patch_endpoint_has_a_base_body(db):
    served = served_routes()
    assert served - set(BY_LABEL) == set(), "POST/PATCH endpoints with no base body in the corpus"
    assert set(BY_LABEL) - served == set(), "base bodies of endpoints the URL map no longer serves"


@pytest.mark.parametrize("label", list(BY_LABEL))
def test_the_base_body_is_accepted(world, label):
    endpoint = BY_LABEL[label]
    secret = SECRETS.get(endpoint.webhook)
    response = send(world, endpoint, Request("base", dumps(endpoint.body(world)), signature_secret=secret))
    if label == "POST /v1/wallet/recharge/verify":  # a simulated recharge has no Razorpay order to verify
        assert (response.status_code, response.json()["code"]) == (400, "invalid_signature"), response.content
    else:
        assert response.status_code < 300, response.content
    assert_ledger_invariants()


@pytest.mark.parametrize("label", list(BY_LABEL))
def test_every_bad_body_is_refused_with_the_envelope_and_moves_no_money(world, label):
    endpoint = BY_LABEL[label]
    wrong = []
    sent = [pair for request in defects(endpoint, world) for pair in as_sent(endpoint, request)]
    for request, recorded_is_fine in sent:
        before = money_and_journal()
        response = send(world, endpoint, request)
        problem = None
        if recorded_is_fine and response.status_code == 200:
            if response.json().get("status") not in ("unknown", "ignored", "replayed"):
                problem = f"answered {response.content!r}"
        elif not 400 <= response.status_code < 500:
            problem = f"answered {response.status_code}"
        elif request.status is not None and response.status_code != request.status:
            problem = f"answered {response.status_code}, not {request.status}"
        else:
            problem = envelope_problem(response)
            body = response.json() if problem is None else {}
            if problem is None and request.code and body["code"] != request.code:
                problem = f"code {body['code']}, not {request.code}"
            if problem is None and request.field and request.field not in body.get("fields", {}):
                problem = f"no field error for {request.field}"
        if problem is None and money_and_journal() != before:
            problem = "money moved"
        if problem:
            wrong.append(f"{request.name}: {problem}: {response.content[:300]!r}")
    assert not wrong, f"{label}, {len(wrong)} of {len(sent)} bad requests:\n  " + "\n  ".join(wrong)
    assert_ledger_invariants()


@pytest.mark.parametrize(("label", "name"), [
    ("POST /v1/users", "name"), ("PATCH /v1/users/<str:user_id>", "name"),
    ("POST /v1/experts/bank-details", "accountHolderName"), ("POST /api/v1/wallet/kyc", "full_name"),
])
@pytest.mark.parametrize("text", ["Robert'); DROP TABLE wallets_account; --", "<script>alert('x')</script>",
                                  "Zoë Ñúñez 李小龍 👩🏽‍⚕️", "O'Brien & \"Sons\" \\ %s %(x)s {0}"])
def test_free_text_that_looks_like_code_is_kept_as_written(world, label, name, text):
    endpoint = BY_LABEL[label]
    before = money_and_journal()

    response = send(world, endpoint, Request("text", dumps({**endpoint.body(world), name: text})))

    assert response.status_code in (200, 201), response.content
    assert response.json()[name] == text
    assert no_money_moved(before, money_and_journal())
