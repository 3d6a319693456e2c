"""Tenants kept apart: every endpoint of both dialects, called with another tenant's ids, answers
exactly as for an id that does not exist (404 with the specific code, never 403), and no balance
anywhere changes.

Four tenants: WeBuddy and TMR Land (seeded), and a second marketplace of each dialect ("acme",
WeBuddy dialect, INR; "bazaar", TMR dialect, USD), each with its own API key.
"""
from dataclasses import dataclass
from decimal import Decimal

import pytest
from rest_framework.test import APIClient

from tests.invariants import assert_ledger_invariants, money_snapshot
from tests.tmr.helpers import PASSWORD, charge, signed_in
from tests.webuddy.helpers import PHONES, create_user, funded_user
from wallets.models import Account, Tenant
from wallets.services import api_keys
from wallets.tenants import tenant_create

pytestmark = pytest.mark.django_db
D = Decimal


def key_client(tenant: Tenant) -> APIClient:
    _, raw = api_keys.api_key_create(name=f"{tenant.code} service", tenant=tenant)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {raw}")
    return client


def jwt_client(username: str) -> APIClient:
    tokens = APIClient().post("/api/v1/auth/token", {"username": username, "password": PASSWORD}, format="json").json()
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {tokens['access']}")
    return client


@dataclass
class WebuddySide:
    """What one WeBuddy-dialect tenant has, made through its own API."""

    client: APIClient
    user: dict
    expert: dict
    bank: dict
    session: dict
    payout: dict
    recharge: dict


def webuddy_side(client: APIClient) -> WebuddySide:
    user, expert = funded_user(client, 1000), funded_user(client, 500)
    recharge = client.post("/v1/wallet/recharge", {"userId": user["id"], "amount": 50, "paymentMethod": "STRIPE"},
                           format="json").json()
    bank = client.post("/v1/experts/bank-details", {
        "expertId": expert["id"], "bankName": "HDFC Bank", "accountNumber": "123456789012",
        "ifscCode": "HDFC0001234", "accountHolderName": "Dr. Rao",
    }, format="json").json()
    session = client.post("/v1/sessions/start", {"userId": user["id"], "expertId": expert["id"], "sessionFee": 100},
                          format="json").json()
    payout = client.post("/v1/payouts/manual", {
        "expertId": expert["id"], "amount": 100, "bankAccount": bank["id"], "paymentMethod": "RAZORPAY",
    }, format="json").json()
    assert session["status"] == "active" and payout["status"] == "paid" and recharge["status"] == "succeeded"
    return WebuddySide(client, user, expert, bank, session, payout, recharge)


@dataclass
class TmrSide:
    client: APIClient  # the orders service's key
    buyer: dict
    seller: dict
    order: str


def tmr_side(client: APIClient, buyer: dict, seller: dict, order: str) -> TmrSide:
    frozen = client.post("/api/v1/wallet/escrow/freeze",
                         {"user_id": buyer["id"], "order_id": order, "amount": 150, "currency": "USD"}, format="json")
    assert frozen.status_code == 201, frozen.content
    return TmrSide(client, buyer, seller, order)


@pytest.fixture
def world(webuddy_client, tmr_key_client):
    acme = tenant_create(code="acme", name="Acme Consults", dialect="webuddy", currencies=["INR"])
    bazaar = tenant_create(code="bazaar", name="Bazaar", dialect="tmr", currencies=["USD"])
    buyer_client, buyer = signed_in()
    _, seller = signed_in()
    charge(buyer_client, 500)
    # bazaar's service signs its own people up with its key; they use the wallet with a JWT.
    bazaar_client = key_client(bazaar)
    bazaar_buyer = bazaar_client.post("/api/v1/auth/register", {"username": "bazaar-buyer", "password": PASSWORD},
                                      format="json").json()
    bazaar_seller = bazaar_client.post("/api/v1/auth/register", {"username": "bazaar-seller", "password": PASSWORD},
                                       format="json").json()
    charge(jwt_client("bazaar-buyer"), 300)
    return {
        "webuddy": webuddy_side(webuddy_client),
        "acme": webuddy_side(key_client(acme)),
        "tmr": tmr_side(tmr_key_client, buyer, seller, "order-1"),
        "bazaar": tmr_side(bazaar_client, bazaar_buyer, bazaar_seller, "order-2"),
    }


# (name, method, url or body builder taking (own side, other side)) -> (status, code)
WEBUDDY_CALLS = [
    ("get user", "get", lambda me, other: (f"/v1/users/{other.user['id']}", None), 404, "user_not_found"),
    ("patch user", "patch", lambda me, other: (f"/v1/users/{other.user['id']}", {"name": "Mallory"}), 404, "user_not_found"),
    ("recharge", "post", lambda me, other: ("/v1/wallet/recharge", {
        "userId": other.user["id"], "amount": 10, "paymentMethod": "RAZORPAY"}), 404, "user_not_found"),
    ("get recharge", "get", lambda me, other: (f"/v1/wallet/recharge/{other.recharge['id']}", None), 404, "recharge_not_found"),
    ("history", "get", lambda me, other: (f"/v1/wallet/history?userId={other.user['id']}", None), 404, "user_not_found"),
    ("start as user", "post", lambda me, other: ("/v1/sessions/start", {
        "userId": other.user["id"], "expertId": me.expert["id"], "sessionFee": 10}), 404, "user_not_found"),
    ("start with expert", "post", lambda me, other: ("/v1/sessions/start", {
        "userId": me.user["id"], "expertId": other.expert["id"], "sessionFee": 10}), 404, "expert_not_found"),
    ("adjust", "post", lambda me, other: ("/v1/sessions/adjust", {
        "sessionId": other.session["id"], "adjustedFee": 5, "deferFee": False}), 404, "session_not_found"),
    ("end", "post", lambda me, other: ("/v1/sessions/end", {
        "sessionId": other.session["id"], "expertId": other.expert["id"], "actualFee": 100}), 404, "session_not_found"),
    ("get session", "get", lambda me, other: (f"/v1/sessions/{other.session['id']}", None), 404, "session_not_found"),
    ("manual payout", "post", lambda me, other: ("/v1/payouts/manual", {
        "expertId": other.expert["id"], "amount": 10, "bankAccount": other.bank["id"], "paymentMethod": "RAZORPAY"}),
     404, "expert_not_found"),
    ("manual payout to their bank", "post", lambda me, other: ("/v1/payouts/manual", {
        "expertId": me.expert["id"], "amount": 10, "bankAccount": other.bank["id"], "paymentMethod": "RAZORPAY"}),
     400, "bank_account_not_found"),
    ("monthly payout", "post", lambda me, other: ("/v1/payouts/monthly", {
        "expertId": other.expert["id"], "month": "2026-01"}), 404, "expert_not_found"),
    ("get payout", "get", lambda me, other: (f"/v1/payouts/{other.payout['id']}", None), 404, "payout_not_found"),
    ("add bank detail", "post", lambda me, other: ("/v1/experts/bank-details", {
        "expertId": other.expert["id"], "bankName": "HDFC Bank", "accountNumber": "987654321098",
        "ifscCode": "HDFC0001234", "accountHolderName": "Mallory"}), 404, "expert_not_found"),
    ("list bank details", "get", lambda me, other: (f"/v1/experts/{other.expert['id']}/bank-details", None),
     404, "expert_not_found"),
]

TMR_CALLS = [
    ("freeze", lambda me, other: ("/api/v1/wallet/escrow/freeze", {
        "user_id": other.buyer["id"], "order_id": "order-x", "amount": 10, "currency": "USD"}), 404, "user_not_found"),
    ("release their order", lambda me, other: ("/api/v1/wallet/escrow/release", {
        "order_id": other.order, "payee_id": other.seller["id"]}), 404, "order_not_found"),
    ("release to their user", lambda me, other: ("/api/v1/wallet/escrow/release", {
        "order_id": me.order, "payee_id": other.seller["id"]}), 404, "user_not_found"),
    ("cancel their order", lambda me, other: ("/api/v1/wallet/escrow/cancel", {"order_id": other.order}),
     404, "order_not_found"),
]


def call(client, method, url, body):
    return getattr(client, method)(url, body, format="json") if body is not None else getattr(client, method)(url)


@pytest.mark.parametrize(("caller", "owner"), [("webuddy", "acme"), ("acme", "webuddy")])
@pytest.mark.parametrize(("name", "method", "build", "status", "code"), WEBUDDY_CALLS, ids=[c[0] for c in WEBUDDY_CALLS])
def test_a_webuddy_key_never_reaches_another_tenants_ids(world, caller, owner, name, method, build, status, code):
    me, other = world[caller], world[owner]
    before = money_snapshot()

    url, body = build(me, other)
    response = call(me.client, method, url, body)

    assert (response.status_code, response.json()["code"]) == (status, code), response.content
    assert money_snapshot() == before
    assert_ledger_invariants()


# The calls that take a user's id: TMR Land's users are as unknown to a WeBuddy key as anyone.
USER_ID_CALLS = [c for c in WEBUDDY_CALLS if c[0] in {
    "get user", "patch user", "recharge", "history", "start as user", "start with expert", "manual payout",
    "monthly payout", "add bank detail", "list bank details",
}]


@pytest.mark.parametrize(("name", "method", "build", "status", "code"), USER_ID_CALLS, ids=[c[0] for c in USER_ID_CALLS])
def test_a_webuddy_key_never_reaches_tmr_land_users(world, name, method, build, status, code):
    me, tmr = world["webuddy"], world["tmr"]
    # A TMR Land user in the place of the other side's user and expert.
    other = WebuddySide(client=tmr.client, user=tmr.buyer, expert=tmr.seller, bank=me.bank, session={}, payout={},
                        recharge={})
    before = money_snapshot()

    url, body = build(me, other)
    response = call(me.client, method, url, body)

    assert (response.status_code, response.json()["code"]) == (status, code), response.content
    assert money_snapshot() == before


@pytest.mark.parametrize(("caller", "owner"), [("tmr", "bazaar"), ("bazaar", "tmr")])
@pytest.mark.parametrize(("name", "build", "status", "code"), TMR_CALLS, ids=[c[0] for c in TMR_CALLS])
def test_a_tmr_key_never_reaches_another_tenants_users_or_orders(world, caller, owner, name, build, status, code):
    me, other = world[caller], world[owner]
    before = money_snapshot()

    url, body = build(me, other)
    response = me.client.post(url, body, format="json")

    assert (response.status_code, response.json()["code"]) == (status, code), response.content
    assert money_snapshot() == before
    assert_ledger_invariants()


@pytest.mark.parametrize("url", ["/api/v1/wallet/escrow/freeze", "/api/v1/wallet/escrow/release"])
def test_a_tmr_key_never_pays_or_charges_a_webuddy_user(world, url):
    me, webuddy = world["tmr"], world["webuddy"]
    body = (
        {"user_id": webuddy.user["id"], "order_id": "order-w", "amount": 10, "currency": "USD"}
        if url.endswith("freeze") else {"order_id": me.order, "payee_id": webuddy.user["id"]}
    )
    before = money_snapshot()

    response = me.client.post(url, body, format="json")

    assert (response.status_code, response.json()["code"]) == (404, "user_not_found")
    assert money_snapshot() == before
    assert not Account.objects.filter(user_id=webuddy.user["id"], currency="USD").exists()


def test_keys_of_one_dialect_are_refused_by_the_other(world):
    acme, bazaar = world["acme"].client, world["bazaar"].client
    assert acme.post("/api/v1/wallet/escrow/cancel", {"order_id": "order-1"}, format="json").status_code == 403
    assert bazaar.get(f"/v1/users/{world['acme'].user['id']}").status_code == 403


def test_each_tenant_has_its_own_namespace_of_phone_numbers_and_order_ids(world):
    phone = next(PHONES)
    mine = create_user(world["webuddy"].client, phone=phone)
    theirs = create_user(world["acme"].client, phone=phone)
    assert mine["id"] != theirs["id"]
    again = world["webuddy"].client.post("/v1/users", {"phoneNumber": phone}, format="json")
    assert (again.status_code, again.json()["code"]) == (409, "phone_number_taken")

    # "order-1" is TMR Land's; bazaar may use the same order id for an order of its own.
    bazaar = world["bazaar"]
    frozen = bazaar.client.post("/api/v1/wallet/escrow/freeze",
                                {"user_id": bazaar.buyer["id"], "order_id": "order-1", "amount": 10, "currency": "USD"},
                                format="json")
    assert frozen.status_code == 201, frozen.content
    cancelled = world["tmr"].client.post("/api/v1/wallet/escrow/cancel", {"order_id": "order-1"}, format="json")
    assert (cancelled.status_code, cancelled.json()["status"]) == (200, "cancelled")
    assert bazaar.client.post("/api/v1/wallet/escrow/cancel", {"order_id": "order-1"}, format="json").json()["status"] == "cancelled"
    assert_ledger_invariants()


def test_wallets_open_only_in_the_tenants_currencies(world):
    bazaar = world["bazaar"]
    buyer = jwt_client("bazaar-buyer")
    before = money_snapshot()

    response = buyer.post("/api/v1/wallet/charge", {"amount": 5, "currency": "USDC"}, format="json")
    frozen = bazaar.client.post("/api/v1/wallet/escrow/freeze",
                                {"user_id": bazaar.buyer["id"], "order_id": "o-usdc", "amount": 1, "currency": "USDC"},
                                format="json")

    assert (response.status_code, response.json()["code"]) == (400, "currency_not_supported")
    assert (frozen.status_code, frozen.json()["code"]) == (404, "wallet_not_found")
    assert money_snapshot() == before
    assert not Account.objects.filter(user_id=bazaar.buyer["id"], currency="USDC").exists()
    wallet = buyer.get("/api/v1/wallet").json()
    assert (wallet["balance"], wallet["frozen_balance"]) == (300, 150)  # 150 of it frozen in order-2


def test_registration_with_a_key_makes_the_keys_tenants_user(world):
    bazaar_user = Account.objects.get(user_id=world["bazaar"].buyer["id"]).user
    assert (bazaar_user.tenant_id, Account.objects.get(user=bazaar_user).currency) == ("bazaar", "USD")
    anonymous = APIClient().post("/api/v1/auth/register", {"username": "walk-in", "password": PASSWORD}, format="json")
    assert anonymous.status_code == 201
    assert Account.objects.get(user_id=anonymous.json()["id"]).tenant_id == "tmr"
    refused = world["acme"].client.post("/api/v1/auth/register", {"username": "sneaky", "password": PASSWORD}, format="json")
    assert (refused.status_code, refused.json()["code"]) == (403, "permission_denied")
