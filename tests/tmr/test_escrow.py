"""Order escrow for the orders service: freeze, release (payee paid less the fee), cancel."""
from decimal import Decimal

import pytest

from tests.invariants import assert_ledger_invariants
from tests.tmr.helpers import charge, signed_in
from wallets.models import Account
from wallets.selectors import system_account_balance

pytestmark = pytest.mark.django_db
D = Decimal
ORDER = "11223344-5566-7788-99aa-bbccddeeff00"


@pytest.fixture(autouse=True)
def _ledger_stays_whole(db):
    yield
    assert_ledger_invariants()


@pytest.fixture
def parties():
    buyer, buyer_user = signed_in()
    seller, seller_user = signed_in()
    charge(buyer, 500)
    return buyer, buyer_user, seller, seller_user


def freeze(client, user_id, amount=150, order=ORDER, currency="USD"):
    return client.post(
        "/api/v1/wallet/escrow/freeze", {"user_id": user_id, "order_id": order, "amount": amount, "currency": currency}, format="json"
    )


def test_freeze_release_pays_the_seller_135_of_150_and_the_platform_15(tmr_key_client, parties):
    buyer, buyer_user, seller, seller_user = parties

    frozen = freeze(tmr_key_client, buyer_user["id"])

    assert frozen.status_code == 201
    body = frozen.json()
    assert (body["order_id"], body["user_id"], body["amount"], body["currency"], body["status"]) == (ORDER, buyer_user["id"], 150, "USD", "frozen")
    assert (body["payee_id"], body["fee"], body["payout_amount"]) == (None, None, None)
    wallet = buyer.get("/api/v1/wallet").json()
    assert (wallet["balance"], wallet["frozen_balance"]) == (500, 150)
    freeze_line = buyer.get("/api/v1/wallet/transactions").json()["items"][0]
    assert (freeze_line["type"], freeze_line["amount"], freeze_line["description"]) == ("freeze", 150, f"Escrow freeze: order {ORDER}")

    released = tmr_key_client.post("/api/v1/wallet/escrow/release", {"order_id": ORDER, "payee_id": seller_user["id"]}, format="json")

    assert released.status_code == 200
    assert b'"fee":15.00' in released.content and b'"payout_amount":135.00' in released.content
    assert (released.json()["status"], released.json()["payee_id"]) == ("released", seller_user["id"])
    buyer_wallet, seller_wallet = buyer.get("/api/v1/wallet").json(), seller.get("/api/v1/wallet").json()
    assert (buyer_wallet["balance"], buyer_wallet["frozen_balance"]) == (350, 0)
    assert (seller_wallet["balance"], seller_wallet["frozen_balance"]) == (135, 0)
    assert system_account_balance(tenant="tmr", code=Account.System.PLATFORM_REVENUE, currency="USD") == D("15.00")
    line = seller.get("/api/v1/wallet/transactions").json()["items"][0]
    assert (line["type"], line["amount"], line["description"], line["reference_type"], line["reference_id"]) == (
        "credit", 135, f"Order payout: {ORDER}", "order", ORDER,
    )


def test_freeze_then_cancel_makes_the_buyer_whole(tmr_key_client, parties):
    buyer, buyer_user, _, _ = parties
    freeze(tmr_key_client, buyer_user["id"])

    response = tmr_key_client.post("/api/v1/wallet/escrow/cancel", {"order_id": ORDER}, format="json")

    assert (response.status_code, response.json()["status"]) == (200, "cancelled")
    wallet = buyer.get("/api/v1/wallet").json()
    assert (wallet["balance"], wallet["frozen_balance"]) == (500, 0)
    assert buyer.get("/api/v1/wallet/transactions").json()["items"][0]["type"] == "unfreeze"


def test_an_order_is_frozen_once(tmr_key_client, parties):
    _, buyer_user, _, _ = parties
    freeze(tmr_key_client, buyer_user["id"])
    response = freeze(tmr_key_client, buyer_user["id"], amount=1)
    assert (response.status_code, response.json()["code"]) == (409, "order_already_exists")


def test_release_after_cancel_and_cancel_after_release_are_409(tmr_key_client, parties):
    _, buyer_user, _, seller_user = parties
    freeze(tmr_key_client, buyer_user["id"])
    tmr_key_client.post("/api/v1/wallet/escrow/cancel", {"order_id": ORDER}, format="json")

    response = tmr_key_client.post("/api/v1/wallet/escrow/release", {"order_id": ORDER, "payee_id": seller_user["id"]}, format="json")
    assert (response.status_code, response.json()["code"]) == (409, "order_not_frozen")

    freeze(tmr_key_client, buyer_user["id"], order="order-2")
    tmr_key_client.post("/api/v1/wallet/escrow/release", {"order_id": "order-2", "payee_id": seller_user["id"]}, format="json")
    for url, body in (("cancel", {"order_id": "order-2"}), ("release", {"order_id": "order-2", "payee_id": seller_user["id"]})):
        response = tmr_key_client.post(f"/api/v1/wallet/escrow/{url}", body, format="json")
        assert (response.status_code, response.json()["code"]) == (409, "order_not_frozen")


def test_freeze_beyond_available_is_400(tmr_key_client, parties):
    _, buyer_user, _, _ = parties
    response = freeze(tmr_key_client, buyer_user["id"], amount=500.01)
    assert (response.status_code, response.json()["code"]) == (400, "insufficient_balance")


def test_unknown_orders_users_and_wallets(tmr_key_client, parties):
    _, buyer_user, _, _ = parties
    ghost = "00000000-0000-0000-0000-000000000000"
    assert freeze(tmr_key_client, ghost).json()["code"] == "user_not_found"
    assert freeze(tmr_key_client, buyer_user["id"], currency="USDC").json()["code"] == "wallet_not_found"
    response = tmr_key_client.post("/api/v1/wallet/escrow/cancel", {"order_id": "nope"}, format="json")
    assert (response.status_code, response.json()["code"]) == (404, "order_not_found")
    freeze(tmr_key_client, buyer_user["id"])
    response = tmr_key_client.post("/api/v1/wallet/escrow/release", {"order_id": ORDER, "payee_id": ghost}, format="json")
    assert (response.status_code, response.json()["code"]) == (404, "user_not_found")
    response = tmr_key_client.post("/api/v1/wallet/escrow/release", {"order_id": ORDER, "payee_id": buyer_user["id"]}, format="json")
    assert (response.status_code, response.json()["code"]) == (422, "validation_error")


@pytest.mark.parametrize(
    "body",
    [
        {"order_id": ORDER, "amount": 10},
        {"user_id": "not-a-uuid", "order_id": ORDER, "amount": 10},
        {"user_id": "00000000-0000-0000-0000-000000000000", "amount": 10},
        {"user_id": "00000000-0000-0000-0000-000000000000", "order_id": ORDER, "amount": 0},
        {"user_id": "00000000-0000-0000-0000-000000000000", "order_id": ORDER, "amount": 1.001},
    ],
)
def test_bad_freeze_input_is_422(tmr_key_client, body):
    response = tmr_key_client.post("/api/v1/wallet/escrow/freeze", body, format="json")
    assert (response.status_code, response.json()["code"]) == (422, "validation_error")


def test_release_credits_a_payee_without_a_wallet_in_that_currency(tmr_key_client):
    buyer, buyer_user = signed_in()
    _, seller_user = signed_in()
    charge(buyer, 10, "USDC")

    freeze(tmr_key_client, buyer_user["id"], amount=10, currency="USDC")
    tmr_key_client.post("/api/v1/wallet/escrow/release", {"order_id": ORDER, "payee_id": seller_user["id"]}, format="json")

    assert Account.objects.get(user_id=seller_user["id"], currency="USDC").balance == D(9)


def test_escrow_needs_a_tmr_key(webuddy_client, api_client):
    for client, status in ((webuddy_client, 403), (api_client, 401)):
        for url in ("freeze", "release", "cancel"):
            assert client.post(f"/api/v1/wallet/escrow/{url}", {}, format="json").status_code == status
