"""`/api/v1/wallet`, `/charge`, `/withdraw`, `/transactions` as the TMR Land seed writes them."""
from decimal import Decimal

import pytest

from tests import holds as in_txn
from tests.invariants import assert_ledger_invariants
from tests.tmr.helpers import UTC, UUID, charge, signed_in
from wallets.models import Account
from wallets.services import accounts

pytestmark = pytest.mark.django_db
D = Decimal
WALLET_FIELDS = {"id", "user_id", "balance", "frozen_balance", "currency", "status", "created_at", "updated_at"}


@pytest.fixture(autouse=True)
def _ledger_stays_whole(db):
    yield
    assert_ledger_invariants()


def test_get_wallet_matches_the_seed_example():
    client, user = signed_in()
    response = client.get("/api/v1/wallet")
    assert response.status_code == 200
    body = response.json()
    assert set(body) == WALLET_FIELDS
    assert UUID.match(body["id"]) and body["user_id"] == user["id"]
    assert (body["balance"], body["frozen_balance"], body["currency"], body["status"]) == (0, 0, "USD", "active")
    assert UTC.match(body["created_at"]) and UTC.match(body["updated_at"])
    assert b'"balance":0.00,"frozen_balance":0.00' in response.content


def test_charge_adds_funds_and_returns_the_wallet():
    client, _ = signed_in()
    response = client.post("/api/v1/wallet/charge", {"amount": 500.00, "currency": "USD"}, format="json")
    assert response.status_code == 200
    body = response.json()
    assert set(body) == WALLET_FIELDS and (body["balance"], body["frozen_balance"]) == (500, 0)
    assert client.post("/api/v1/wallet/charge", data='{"amount": 0.5}', content_type="application/json").json()["balance"] == 500.5


def test_the_first_usdc_charge_opens_the_usdc_wallet():
    client, user = signed_in()
    missing = client.get("/api/v1/wallet", {"currency": "USDC"})
    assert (missing.status_code, missing.json()["code"]) == (404, "wallet_not_found")

    response = client.post("/api/v1/wallet/charge", data='{"amount": 12.345678, "currency": "USDC"}', content_type="application/json")

    assert response.status_code == 200 and b'"balance":12.345678' in response.content
    assert client.get("/api/v1/wallet", {"currency": "USDC"}).json()["currency"] == "USDC"
    assert Account.objects.filter(user_id=user["id"]).count() == 2


@pytest.mark.parametrize(
    "body",
    [
        '{"amount": 0}', '{"amount": -5}', '{"amount": 1.001}', '{"amount": "10"}', '{"amount": 1e13}',
        '{"amount": NaN}', '{}', '{"amount": 1, "currency": "EUR"}', '{"amount": 1.0000001, "currency": "USDC"}', '[1]',
    ],
)
@pytest.mark.parametrize("endpoint", ["charge", "withdraw"])
def test_bad_amounts_are_422_validation_error(body, endpoint):
    client, _ = signed_in()
    charge(client, 100)
    response = client.post(f"/api/v1/wallet/{endpoint}", data=body, content_type="application/json")
    assert (response.status_code, response.json()["code"]) == (422, "validation_error")
    assert response.json()["fields"]
    assert client.get("/api/v1/wallet").json()["balance"] == 100


def test_malformed_json_is_422():
    client, _ = signed_in()
    response = client.post("/api/v1/wallet/charge", data='{"amount": ', content_type="application/json")
    assert (response.status_code, response.json()["code"]) == (422, "malformed_json")


def test_withdraw_takes_from_the_available_balance():
    client, user = signed_in()
    charge(client, 2450)
    in_txn.place(wallet=Account.objects.get(user_id=user["id"], currency="USD"), amount=D(300))

    response = client.post("/api/v1/wallet/withdraw", {"amount": 1000.00, "currency": "USD"}, format="json")

    assert response.status_code == 200
    assert (response.json()["balance"], response.json()["frozen_balance"]) == (1450, 300)
    refused = client.post("/api/v1/wallet/withdraw", data='{"amount": 1150.01}', content_type="application/json")
    assert (refused.status_code, refused.json()["code"]) == (400, "insufficient_balance")
    assert client.get("/api/v1/wallet").json()["balance"] == 1450


def test_withdraw_from_a_currency_without_a_wallet_is_404():
    client, _ = signed_in()
    response = client.post("/api/v1/wallet/withdraw", {"amount": 1, "currency": "USDC"}, format="json")
    assert (response.status_code, response.json()["code"]) == (404, "wallet_not_found")


def test_a_suspended_wallet_refuses_charges_and_withdrawals():
    client, user = signed_in()
    charge(client, 10)
    accounts.wallet_suspend(wallet=Account.objects.get(user_id=user["id"]))
    for endpoint in ("charge", "withdraw"):
        response = client.post(f"/api/v1/wallet/{endpoint}", {"amount": 1}, format="json")
        assert (response.status_code, response.json()["code"]) == (403, "wallet_suspended")
    assert client.get("/api/v1/wallet").json()["status"] == "suspended"


def test_bad_currency_query_is_422():
    client, _ = signed_in()
    response = client.get("/api/v1/wallet", {"currency": "EUR"})
    assert (response.status_code, response.json()["code"]) == (422, "validation_error")


def test_transactions_match_the_seed_example(tmr_key_client):
    buyer, buyer_user = signed_in()
    seller, seller_user = signed_in()
    charge(seller, 500)
    charge(buyer, 300)
    tmr_key_client.post("/api/v1/wallet/escrow/freeze", {"user_id": buyer_user["id"], "order_id": "22334455-6677-8899-aabb-ccddeeff0011", "amount": 150, "currency": "USD"}, format="json")
    order = "11223344-5566-7788-99aa-bbccddeeff00"
    tmr_key_client.post("/api/v1/wallet/escrow/freeze", {"user_id": buyer_user["id"], "order_id": order, "amount": 150, "currency": "USD"}, format="json")
    tmr_key_client.post("/api/v1/wallet/escrow/release", {"order_id": order, "payee_id": seller_user["id"]}, format="json")

    response = seller.get("/api/v1/wallet/transactions", {"offset": 0, "limit": 5})

    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"items", "total"} and body["total"] == 2
    payout, deposit = body["items"]
    assert set(payout) == {"id", "wallet_id", "type", "amount", "currency", "description", "reference_id", "reference_type", "created_at"}
    assert (payout["type"], payout["amount"], payout["currency"]) == ("credit", 135, "USD")
    assert (payout["description"], payout["reference_id"], payout["reference_type"]) == (f"Order payout: {order}", order, "order")
    assert b'"amount":135.00' in response.content
    assert (deposit["type"], deposit["amount"], deposit["description"], deposit["reference_id"], deposit["reference_type"]) == (
        "deposit", 500, "Manual deposit", None, None,
    )
    assert UUID.match(payout["id"]) and UUID.match(payout["wallet_id"]) and UTC.match(payout["created_at"])
    buyer_items = buyer.get("/api/v1/wallet/transactions").json()["items"]
    assert [(i["type"], i["amount"]) for i in buyer_items] == [("debit", 150), ("freeze", 150), ("freeze", 150), ("deposit", 300)]
    assert buyer_items[2]["description"] == "Escrow freeze: order 22334455-6677-8899-aabb-ccddeeff0011"


def test_transactions_page_with_offset_and_limit_and_filter():
    client, _ = signed_in()
    for amount in range(1, 8):
        charge(client, amount)
    charge(client, 1, "USDC")
    client.post("/api/v1/wallet/withdraw", {"amount": 2}, format="json")

    page = client.get("/api/v1/wallet/transactions", {"offset": 2, "limit": 3}).json()
    assert page["total"] == 9
    assert [i["amount"] for i in page["items"]] == [7, 6, 5]
    usdc = client.get("/api/v1/wallet/transactions", {"currency": "USDC"}).json()
    assert (usdc["total"], usdc["items"][0]["currency"]) == (1, "USDC")
    withdrawals = client.get("/api/v1/wallet/transactions", {"type": "withdrawal"}).json()
    assert [(i["type"], i["amount"]) for i in withdrawals["items"]] == [("withdrawal", 2)]
    assert client.get("/api/v1/wallet/transactions").json()["items"].__len__() == 9


@pytest.mark.parametrize("params", [{"offset": -1}, {"limit": 0}, {"limit": 101}, {"limit": "x"}, {"type": "bogus"}, {"currency": "INR"}])
def test_bad_transaction_queries_are_422(params):
    client, _ = signed_in()
    response = client.get("/api/v1/wallet/transactions", params)
    assert (response.status_code, response.json()["code"]) == (422, "validation_error")


def test_a_user_never_sees_or_moves_another_users_money(tmr_key_client):
    alice, alice_user = signed_in()
    bob, bob_user = signed_in()
    charge(alice, 100)
    alice.post("/api/v1/wallet/kyc", {"full_name": "Alice", "id_type": "passport", "id_number": "E12345678"}, format="json")

    assert bob.get("/api/v1/wallet").json()["balance"] == 0
    assert bob.get("/api/v1/wallet/transactions").json() == {"items": [], "total": 0}
    assert bob.get("/api/v1/wallet/kyc").json()["code"] == "kyc_not_found"
    for name, value in (("user_id", alice_user["id"]), ("wallet_id", alice.get("/api/v1/wallet").json()["id"])):
        refused = bob.post("/api/v1/wallet/withdraw", {"amount": 1, name: value}, format="json")
        assert (refused.status_code, refused.json()["code"], list(refused.json()["fields"])) == (422, "validation_error", [name])
    assert alice.get("/api/v1/wallet").json()["balance"] == 100
    assert bob.get("/api/v1/wallet", {"user_id": alice_user["id"]}).json()["user_id"] == bob_user["id"]
