"""One path per endpoint: every request to the hot money endpoints, with an `Idempotency-Key` or
without, is parsed by the view's input serializer, read its caller with one statement, calls the
service and is rendered by the same renderer.

- Each plain-dict renderer gives what its serializer (the schema's source) gives.
- Answers match the OpenAPI schema; a keyed request answers as an unkeyed one does.
- A service's refusal is the same with a key and without (and the keyed one is replayed).
- Bad bodies, credentials and encodings are refused before any money moves.
"""
import json
import uuid
from datetime import timedelta
from decimal import Decimal
from unittest import mock

import jsonschema
import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from sessions_app.api.webuddy import SessionOut, render_session
from sessions_app.models import ConsultationSession
from tests.invariants import assert_ledger_invariants
from tests.tmr.helpers import charge, signed_in
from tests.webuddy.helpers import create_user, funded_user
from wallets.api.auth import UserJWTAuthentication
from wallets.api.tmr import EscrowOut, WalletOut, render_escrow, render_wallet
from wallets.api.webuddy import (
    HistoryItemOut,
    RechargeOut,
    WalletSummaryOut,
    render_history_line,
    render_recharge,
    render_wallet_summary,
)
from wallets.models import Account, Escrow, Recharge
from wallets.selectors import wallet_history

pytestmark = pytest.mark.django_db

@pytest.fixture(scope="module")
def openapi(django_db_blocker):
    with django_db_blocker.unblock():
        return APIClient().get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()


def json_schema(node):
    """OpenAPI 3.0's `nullable` as JSON Schema's null type."""
    if isinstance(node, list):
        return [json_schema(n) for n in node]
    if not isinstance(node, dict):
        return node
    out = {k: json_schema(v) for k, v in node.items() if k != "nullable"}
    if node.get("nullable"):
        out = {"anyOf": [out, {"type": "null"}]}
    return out


def check_schema(openapi, path: str, method: str, status: int, body: dict) -> None:
    """The body against its response schema; no property outside it."""
    schema = openapi["paths"][path][method]["responses"][str(status)]["content"]["application/json"]["schema"]
    components = json_schema(openapi["components"])
    for component in components["schemas"].values():
        component.setdefault("additionalProperties", False)
    jsonschema.validate(body, {**json_schema(schema), "components": components})


# The renderers and their serializers


def test_each_renderer_gives_what_its_serializer_gives(webuddy_client, tmr_key_client):
    user, expert = funded_user(webuddy_client, 500), create_user(webuddy_client)
    started = webuddy_client.post("/v1/sessions/start", {"userId": user["id"], "expertId": expert["id"], "sessionFee": 100}, format="json")
    webuddy_client.post("/v1/sessions/end", {"sessionId": started.json()["id"], "expertId": expert["id"], "actualFee": Decimal("70.5")}, format="json")
    for session in ConsultationSession.objects.all():
        assert render_session(session) == SessionOut(session).data
    open_session = webuddy_client.post("/v1/sessions/start", {"userId": user["id"], "expertId": expert["id"], "sessionFee": 10}, format="json")
    assert open_session.status_code == 201
    session = ConsultationSession.objects.get(pk=open_session.json()["id"])
    assert render_session(session) == SessionOut(session).data  # nulls while it runs

    wallet = Account.objects.get(user_id=user["id"], kind="wallet")
    assert render_wallet(wallet) == WalletOut(wallet).data
    assert render_wallet_summary(wallet) == WalletSummaryOut(wallet).data
    for line in wallet_history(wallets=[wallet], offset=0, limit=50).lines:
        assert render_history_line(line) == HistoryItemOut(line).data
    for recharge in Recharge.objects.select_related("account"):
        serialized = RechargeOut(recharge).data
        if not recharge.checkout or recharge.status != Recharge.Status.PENDING:
            serialized.pop("checkout")
        assert render_recharge(recharge) == serialized

    buyer, buyer_user = signed_in()
    _, seller_user = signed_in()
    charge(buyer, 500)
    tmr_key_client.post("/api/v1/wallet/escrow/freeze", {"user_id": buyer_user["id"], "order_id": "o-1", "amount": 150, "currency": "USD"}, format="json")
    tmr_key_client.post("/api/v1/wallet/escrow/freeze", {"user_id": buyer_user["id"], "order_id": "o-2", "amount": 10, "currency": "USD"}, format="json")
    tmr_key_client.post("/api/v1/wallet/escrow/release", {"order_id": "o-1", "payee_id": seller_user["id"]}, format="json")
    escrows = list(Escrow.objects.all())
    assert {e.status for e in escrows} == {"frozen", "released"}
    for escrow in escrows:
        assert render_escrow(escrow) == EscrowOut(escrow).data


def test_a_pending_live_recharge_renders_its_checkout_like_its_serializer():
    recharge = Recharge(
        id=uuid.uuid4(), user_id=uuid.uuid4(), amount=Decimal("10"), currency="INR", payment_method="RAZORPAY",
        status="pending", provider_order_id="order_1", checkout={"keyId": "rzp_test_1", "orderId": "order_1", "amount": 1000, "currency": "INR"},
    )
    recharge.created_at = recharge.updated_at = timezone.now()
    recharge.account = Account(currency="INR", balance=Decimal("1.5"), held_balance=Decimal(0), status="active")
    assert render_recharge(recharge) == RechargeOut(recharge).data
    assert render_recharge(recharge)["checkout"]["amount"] == 1000


# Answers, keyed and not


def _same_but_ids(a: dict, b: dict, *ignored: str) -> None:
    assert list(a) == list(b)  # same fields, same order
    assert {k: v for k, v in a.items() if k not in ignored} == {k: v for k, v in b.items() if k not in ignored}


def test_tmr_withdraw_and_charge_answer_alike_with_and_without_a_key(openapi):
    client, _ = signed_in()
    charge(client, 100)
    charged = client.post("/api/v1/wallet/charge", {"amount": 10, "currency": "USD"}, format="json")
    plain = client.post("/api/v1/wallet/withdraw", {"amount": Decimal("0.5")}, format="json")
    keyed = client.post("/api/v1/wallet/withdraw", {"amount": Decimal("0.5")}, format="json", HTTP_IDEMPOTENCY_KEY="w-1")
    assert (charged.status_code, plain.status_code, keyed.status_code) == (200, 200, 200)
    a, b = plain.json(), keyed.json()
    _same_but_ids(a, b, "balance", "updated_at")
    assert (Decimal(str(a["balance"])), Decimal(str(b["balance"]))) == (Decimal("109.50"), Decimal("109.00"))
    assert b'"balance":109.50' in plain.content  # exact decimals, the currency's places
    assert plain["Allow"] == keyed["Allow"] and plain["Content-Type"] == keyed["Content-Type"]
    check_schema(openapi, "/api/v1/wallet/withdraw", "post", 200, a)
    check_schema(openapi, "/api/v1/wallet/charge", "post", 200, charged.json())
    wallet = client.get("/api/v1/wallet").json()
    assert wallet["balance"] == 109 and wallet["updated_at"] == b["updated_at"]


def test_webuddy_sessions_recharge_and_history_answer_by_their_schema(webuddy_client, openapi):
    user, expert = funded_user(webuddy_client, 500), create_user(webuddy_client)
    started = webuddy_client.post("/v1/sessions/start", {"userId": user["id"], "expertId": expert["id"], "sessionFee": 100}, format="json")
    assert started.status_code == 201, started.content
    adjusted = webuddy_client.post("/v1/sessions/adjust", {"sessionId": started.json()["id"], "adjustedFee": 120}, format="json",
                                   HTTP_IDEMPOTENCY_KEY="adjust-1")
    assert adjusted.status_code == 200, adjusted.content
    ended = webuddy_client.post("/v1/sessions/end", {"sessionId": started.json()["id"], "expertId": expert["id"], "actualFee": 110}, format="json")
    assert ended.status_code == 200, ended.content
    recharged = webuddy_client.post("/v1/wallet/recharge", {"userId": user["id"], "amount": 25, "paymentMethod": "RAZORPAY"}, format="json",
                                    HTTP_IDEMPOTENCY_KEY="recharge-1")
    assert recharged.status_code == 201, recharged.content
    history = webuddy_client.get(f"/v1/wallet/history?userId={user['id']}&page=1&pageSize=3")
    assert history.status_code == 200, history.content

    assert ended.json()["chargedAmount"] == 110 and ended.json()["status"] == "settled"
    assert [line["type"] for line in history.json()["items"]][:1] == ["deposit"]
    assert history.json()["pageSize"] == 3 and history.json()["totalPages"] >= 2
    for path, status, response in (
        ("/v1/sessions/start", 201, started), ("/v1/sessions/adjust", 200, adjusted), ("/v1/sessions/end", 200, ended),
        ("/v1/wallet/recharge", 201, recharged),
    ):
        check_schema(openapi, path, "post", status, response.json())
    check_schema(openapi, "/v1/wallet/history", "get", 200, history.json())


def test_escrow_freeze_and_release_answer_by_their_schema(tmr_key_client, openapi):
    buyer, buyer_user = signed_in()
    _, seller_user = signed_in()
    charge(buyer, 500)
    frozen = tmr_key_client.post("/api/v1/wallet/escrow/freeze", {"user_id": buyer_user["id"], "order_id": "o-9", "amount": 150}, format="json",
                                 HTTP_IDEMPOTENCY_KEY="freeze-9")
    assert frozen.status_code == 201, frozen.content
    released = tmr_key_client.post("/api/v1/wallet/escrow/release", {"order_id": "o-9", "payee_id": seller_user["id"]}, format="json")
    assert released.status_code == 200, released.content
    assert released.json()["status"] == "released" and released.json()["payout_amount"] + released.json()["fee"] == 150
    check_schema(openapi, "/api/v1/wallet/escrow/freeze", "post", 201, frozen.json())
    check_schema(openapi, "/api/v1/wallet/escrow/release", "post", 200, released.json())


# Refusals


def test_a_refusal_is_the_same_with_a_key_and_without(webuddy_client):
    client, _ = signed_in()
    charge(client, 5)
    plain = client.post("/api/v1/wallet/withdraw", {"amount": 50}, format="json")
    keyed = client.post("/api/v1/wallet/withdraw", {"amount": 50}, format="json", HTTP_IDEMPOTENCY_KEY="too-much")
    assert plain.status_code == keyed.status_code == 400 and plain.content == keyed.content  # TMR Land: 400
    assert plain.json()["code"] == "insufficient_balance"
    charge(client, 100)
    replayed = client.post("/api/v1/wallet/withdraw", {"amount": 50}, format="json", HTTP_IDEMPOTENCY_KEY="too-much")
    assert replayed["Idempotent-Replayed"] == "true" and replayed.content == keyed.content  # the refusal is the key's answer
    assert client.get("/api/v1/wallet").json()["balance"] == 105

    user, expert = funded_user(webuddy_client, 5), create_user(webuddy_client)
    body = {"userId": user["id"], "expertId": expert["id"], "sessionFee": 100}
    plain = webuddy_client.post("/v1/sessions/start", body, format="json")
    keyed = webuddy_client.post("/v1/sessions/start", body, format="json", HTTP_IDEMPOTENCY_KEY="start-1")
    assert plain.status_code == keyed.status_code and plain.content == keyed.content
    assert plain.json()["code"] == "insufficient_balance"


@pytest.mark.parametrize("body, status, code", [
    ({"amount": 1, "currency": "USD", "note": "x"}, 422, "validation_error"),  # an unknown field
    ({"amount": "1", "currency": "USD"}, 422, "validation_error"),  # a string for a number
    ({"amount": True}, 422, "validation_error"),
    ({"amount": 1, "currency": "EUR"}, 422, "validation_error"),
    ({"currency": "USD"}, 422, "validation_error"),  # the amount missing
    ([1, 2], 422, "validation_error"),
])
def test_a_body_the_serializer_refuses_moves_no_money(body, status, code):
    client, _ = signed_in()
    charge(client, 5)
    with mock.patch("wallets.api.tmr.postings.wallet_withdraw", side_effect=AssertionError("posted")):
        response = client.post("/api/v1/wallet/withdraw", body, format="json")
    assert response.status_code == status, response.content
    assert response.json()["code"] == code and "message" in response.json()


def test_bad_credentials_a_missing_wallet_and_a_first_charge_in_a_currency(webuddy_client):
    client, _ = signed_in()
    bad = APIClient()
    bad.credentials(HTTP_AUTHORIZATION="Bearer not-a-token")
    refused = bad.post("/api/v1/wallet/withdraw", {"amount": 1}, format="json")
    assert refused.status_code == 401 and refused.json()["code"] == "not_authenticated"
    missing = client.post("/api/v1/wallet/withdraw", {"amount": 1, "currency": "USDC"}, format="json")
    assert missing.status_code == 404 and missing.json()["code"] == "wallet_not_found"
    opened = client.post("/api/v1/wallet/charge", {"amount": 3, "currency": "USDC"}, format="json")
    assert opened.status_code == 200 and opened.json()["currency"] == "USDC"  # the first charge opened the wallet

    first = client.post("/api/v1/wallet/withdraw", {"amount": 1, "currency": "USDC"}, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    again = client.post("/api/v1/wallet/withdraw", {"amount": 1, "currency": "USDC"}, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    assert (first.status_code, again.status_code) == (200, 200)
    assert again["Idempotent-Replayed"] == "true" and again.content == first.content
    assert client.get("/api/v1/wallet?currency=USDC").json()["balance"] == 2

    key = webuddy_client._credentials["HTTP_AUTHORIZATION"]
    tmr = APIClient()
    tmr.credentials(HTTP_AUTHORIZATION=key)  # a WeBuddy key on the TMR orders API
    wrong = tmr.post("/api/v1/wallet/escrow/release", {"order_id": "o", "payee_id": str(uuid.uuid4())}, format="json")
    assert wrong.status_code == 403 and wrong.json()["code"] == "permission_denied"


def test_a_history_query_with_filters_repeats_or_blanks(webuddy_client):
    user = funded_user(webuddy_client, 50)
    filtered = webuddy_client.get(f"/v1/wallet/history?userId={user['id']}&type=deposit")
    repeated = webuddy_client.get(f"/v1/wallet/history?userId={user['id']}&page=1&page=2")
    blank = webuddy_client.get(f"/v1/wallet/history?userId={user['id']}&pageSize=")
    assert filtered.status_code == 200 and {i["type"] for i in filtered.json()["items"]} == {"deposit"}
    assert repeated.status_code == 200
    assert blank.status_code == 400 and blank.json()["code"] == "validation_error"


def test_duplicate_keys_nan_and_negative_zero_never_reach_a_service():
    client, _ = signed_in()
    charge(client, 5)
    for raw in ('{"amount":1,"amount":2}', '{"amount":NaN}', '{"amount":-0}', '{"amount":1e400000}'):
        response = client.generic("POST", "/api/v1/wallet/withdraw", raw, content_type="application/json")
        assert response.status_code == 422, (raw, response.content)
        assert response.json()["code"] in ("validation_error", "malformed_json")
    assert client.get("/api/v1/wallet").json()["balance"] == 5
    assert json.loads(client.get("/api/v1/wallet").content)["status"] == "active"


def test_an_expired_token_is_refused_even_after_its_signature_was_remembered(settings):
    client, user = signed_in()
    charge(client, 5)
    assert client.post("/api/v1/wallet/withdraw", {"amount": 1}, format="json").status_code == 200
    raw = client._credentials["HTTP_AUTHORIZATION"].split(" ", 1)[1].encode()
    remembered = UserJWTAuthentication._verified
    assert raw in remembered
    with mock.patch("wallets.api.auth.time.time", return_value=remembered[raw][1] + 1), \
         mock.patch("rest_framework_simplejwt.tokens.aware_utcnow",
                    return_value=timezone.now() + settings.SIMPLE_JWT["ACCESS_TOKEN_LIFETIME"] + timedelta(seconds=5)):
        expired = client.post("/api/v1/wallet/withdraw", {"amount": 1}, format="json")
    assert expired.status_code == 401 and expired.json()["code"] == "not_authenticated"


def test_a_deactivated_user_is_refused_at_once_though_the_token_is_remembered():
    from wallets.models import User

    client, user = signed_in()
    charge(client, 5)
    User.objects.filter(pk=user["id"]).update(is_active=False)
    refused = client.post("/api/v1/wallet/withdraw", {"amount": 1}, format="json")
    assert refused.status_code == 401 and refused.json()["code"] == "not_authenticated"


@pytest.mark.parametrize("raw", [
    b'\xef\xbb\xbf{"amount":1}',  # a UTF-8 byte order mark
    '{"amount":1}'.encode("utf-16"),
    '{"amount":1}'.encode("utf-32-le"),
])
def test_a_body_that_is_not_plain_utf8_json_is_refused_as_the_full_parser_refuses_it(raw):
    client, _ = signed_in()
    charge(client, 5)
    response = client.generic("POST", "/api/v1/wallet/withdraw", raw, content_type="application/json")
    assert response.status_code == 422 and response.json()["code"] == "malformed_json", response.content
    assert client.get("/api/v1/wallet").json()["balance"] == 5


def test_an_empty_accept_and_a_format_override_are_answered_by_drf_before_any_money_moves(webuddy_client):
    client, _ = signed_in()
    charge(client, 5)
    empty = client.post("/api/v1/wallet/withdraw", {"amount": 1}, format="json", HTTP_ACCEPT="")
    assert empty.status_code == 406
    override = client.post("/api/v1/wallet/withdraw?format=api", {"amount": 1}, format="json")
    assert override.status_code == 404
    assert client.get("/api/v1/wallet").json()["balance"] == 5
    user, expert = funded_user(webuddy_client, 50), create_user(webuddy_client)
    started = webuddy_client.post("/v1/sessions/start?format=api", {"userId": user["id"], "expertId": expert["id"], "sessionFee": 10}, format="json")
    assert started.status_code == 404


def test_hostile_bodies_on_the_hot_endpoints_are_refused_and_move_no_money(webuddy_client, settings):
    user, expert = funded_user(webuddy_client, 500), create_user(webuddy_client)
    start = "/v1/sessions/start"

    def balance():
        return Account.objects.get(user_id=user["id"], kind="wallet").balance

    before = balance()
    # Ids in capitals are the same ids.
    upper = webuddy_client.post(start, {"userId": user["id"].upper(), "expertId": expert["id"].upper(), "sessionFee": 1}, format="json")
    assert upper.status_code == 201 and upper.json()["userId"] == user["id"]
    held = balance()
    assert held == before  # a hold moves money to the held part, not out of the wallet
    for body, status in [
        ({"userId": user["id"], "expertId": expert["id"], "sessionFee": 10**13}, 400),  # beyond 10^12
        ({"userId": user["id"], "expertId": expert["id"], "sessionFee": int("9" * 400)}, 400),
        ({"userId": user["id"], "expertId": expert["id"], "sessionFee": Decimal("1e-30")}, 400),
        ({"userId": "１２３", "expertId": expert["id"], "sessionFee": 1}, 404),  # not one of our ids
    ]:
        response = webuddy_client.post(start, body, format="json")
        assert response.status_code == status, (body, response.content)
    deep = '{"userId":' + "[" * 5000 + "]" * 5000 + "}"
    assert webuddy_client.generic("POST", start, deep, content_type="application/json").status_code == 400
    huge = '{"userId":"' + "a" * (settings.API_MAX_BODY_BYTES + 10) + '"}'
    assert webuddy_client.generic("POST", start, huge, content_type="application/json").status_code == 413
    page = webuddy_client.get(f"/v1/wallet/history?userId={user['id']}&page=١")  # an Arabic-Indic digit
    assert page.status_code == 400 and page.json()["code"] == "validation_error"
    assert balance() == held
    assert_ledger_invariants()


@pytest.mark.parametrize("accept", [None, "*/*", "application/json", "application/json; charset=utf-8", "text/html",
                                    "application/json, */*;q=0.1", "", "application/*"])
@pytest.mark.parametrize("query", ["", "?format=json", "?format=api", "?format="])
def test_the_quick_negotiation_answers_what_drf_would(accept, query):
    from django.http import Http404
    from rest_framework.exceptions import NotAcceptable
    from rest_framework.negotiation import DefaultContentNegotiation
    from rest_framework.request import Request
    from rest_framework.test import APIRequestFactory

    from wallets.api.rendering import DecimalJSONRenderer, JSONFirstNegotiation

    headers = {} if accept is None else {"HTTP_ACCEPT": accept}
    request = Request(APIRequestFactory().get(f"/x{query}", **headers))
    answers = []
    for negotiation in (DefaultContentNegotiation(), JSONFirstNegotiation()):
        try:
            renderer, media_type = negotiation.select_renderer(request, [DecimalJSONRenderer()])
            answers.append((type(renderer), media_type))
        except (NotAcceptable, Http404) as exc:
            answers.append(type(exc))
    assert answers[0] == answers[1]


def test_serializers_of_one_class_bind_their_own_copies_of_the_fields():
    from wallets.api.tmr import MoneyIn

    one, two = MoneyIn(data={"amount": 1, "currency": "USD"}), MoneyIn(data={"amount": "x"})
    assert one.is_valid() and not two.is_valid()
    assert one.fields["amount"] is not two.fields["amount"] and one.fields["amount"].parent is one
    assert MoneyIn._declared_fields["amount"].parent is None  # the declared field itself is never bound
    assert one.validated_data["amount"] == 1 and "amount" in two.errors


def test_every_view_that_calls_a_service_which_calls_out_names_it():
    """A keyed request runs in the phases of the service its view names (`service`); a view that called
    such a service without naming it would wrap it in one transaction (and the service would refuse to
    call out inside it)."""
    import inspect

    from django.urls import URLPattern, URLResolver, get_resolver

    from payouts import services as payout_services
    from wallets.recovery import runs_in_phases
    from wallets.services import recharges

    calling_out = {f.__name__: f for module in (payout_services, recharges) for f in vars(module).values()
                   if callable(f) and runs_in_phases(f)}
    assert {"recharge_create", "recharge_verify_razorpay", "payout_request_manual", "payout_request_monthly"} <= set(calling_out)

    def views(resolver):
        for entry in resolver.url_patterns:
            if isinstance(entry, URLResolver):
                yield from views(entry)
            elif isinstance(entry, URLPattern) and hasattr(entry.callback, "cls"):
                yield entry.callback.cls

    checked = 0
    for view in set(views(get_resolver())):
        source = inspect.getsource(view)
        for name, service in calling_out.items():
            if f"{name}(" in source or f".{name})" in source:
                assert getattr(view, "service", None) is service, f"{view.__name__} calls {name} without naming it"
                checked += 1
        if "self.service(" in source:
            assert getattr(view, "service", None) is not None, f"{view.__name__} calls self.service but names none"
        if getattr(view, "service", None) is not None:
            assert runs_in_phases(view.service), f"{view.__name__} names a service that does not call out"
    assert checked >= 4
