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
import json
import re
import time
import uuid
from dataclasses import dataclass, replace
from decimal import Decimal
from urllib.parse import urlencode

import pytest
from django.urls import URLResolver, get_resolver
from rest_framework.test import APIClient

from tests.invariants import assert_ledger_invariants
from tests.reliability.catalogue import (
    AMOUNT,
    BY_LABEL,
    FORMAT,
    ID,
    RAZORPAY_SECRET,
    STRIPE_SECRET,
    TEXT,
    Endpoint,
    World,
    fresh,
)
from wallets.models import Account, Entry, JournalTransaction

pytestmark = pytest.mark.django_db


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
