"""`/v1/wallet/recharge` and `/v1/wallet/history`."""
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from tests.invariants import assert_ledger_invariants
from tests.webuddy.helpers import create_user, funded_user, num, post_json, recharge, wallet_of
from wallets.models import Account, Recharge
from wallets.selectors import system_account_balance
from wallets.services import accounts, recharges

pytestmark = pytest.mark.django_db
D = Decimal


@pytest.mark.parametrize(("method", "prefix"), [("RAZORPAY", "sim_rzp_order_"), ("STRIPE", "sim_stripe_order_")])
def test_recharge_with_the_simulated_gateway_credits_at_once(webuddy_client, method, prefix):
    user = create_user(webuddy_client)

    response = webuddy_client.post(
        "/v1/wallet/recharge", {"userId": user["id"], "amount": 500, "paymentMethod": method}, format="json"
    )

    assert response.status_code == 201
    body = response.json()
    assert set(body) == {"id", "userId", "amount", "currency", "paymentMethod", "status", "providerOrderId", "createdAt", "wallet"}
    assert (body["userId"], body["amount"], body["currency"], body["paymentMethod"], body["status"]) == (
        user["id"], 500, "INR", method, "succeeded",
    )
    assert body["providerOrderId"].startswith(prefix)
    assert body["wallet"] == {"balance": 500, "heldBalance": 0, "availableBalance": 500, "currency": "INR", "status": "active"}
    assert b'"amount":500.00' in response.content
    recharge_row = Recharge.objects.get(pk=body["id"])
    assert recharge_row.transaction_id is not None and recharge_row.provider_payment_id
    assert system_account_balance(tenant="webuddy", code=Account.System.GATEWAY_CLEARING, currency="INR") == D(-500)
    assert_ledger_invariants()


def test_confirming_a_recharge_twice_credits_once(webuddy_client):
    user = create_user(webuddy_client)
    body = recharge(webuddy_client, user["id"], 100)

    recharges.recharge_confirm(recharge_id=body["id"], provider_payment_id="again")

    assert num(wallet_of(webuddy_client, user["id"])["balance"]) == D(100)


@pytest.mark.parametrize(
    ("amount", "field"),
    [("0", "amount"), ("-1", "amount"), ("1.001", "amount"), ('"10"', "amount"), ("1e13", "amount"), ("NaN", "amount"), ("null", "amount")],
)
def test_bad_recharge_amounts_are_400(webuddy_client, amount, field):
    user = create_user(webuddy_client)
    body = '{"userId": "%s", "amount": %s, "paymentMethod": "RAZORPAY"}' % (user["id"], amount)
    response = post_json(webuddy_client, "/v1/wallet/recharge", body)
    assert (response.status_code, response.json()["code"]) == (400, "validation_error")
    assert field in response.json()["fields"]
    assert wallet_of(webuddy_client, user["id"])["balance"] == 0
    assert Recharge.objects.count() == 0


def test_unknown_payment_method_is_400(webuddy_client):
    user = create_user(webuddy_client)
    response = webuddy_client.post(
        "/v1/wallet/recharge", {"userId": user["id"], "amount": 5, "paymentMethod": "PAYPAL"}, format="json"
    )
    assert (response.status_code, response.json()["code"]) == (400, "validation_error")
    assert "paymentMethod" in response.json()["fields"]


@pytest.mark.parametrize("user_id", ["00000000-0000-0000-0000-000000000000", "abc"])
def test_recharge_for_an_unknown_user_is_404(webuddy_client, user_id):
    response = webuddy_client.post("/v1/wallet/recharge", {"userId": user_id, "amount": 5, "paymentMethod": "STRIPE"}, format="json")
    assert (response.status_code, response.json()["code"]) == (404, "user_not_found")


def test_recharge_of_a_suspended_wallet_is_403(webuddy_client):
    user = create_user(webuddy_client)
    accounts.wallet_suspend(wallet=Account.objects.get(user_id=user["id"]))
    response = webuddy_client.post("/v1/wallet/recharge", {"userId": user["id"], "amount": 5, "paymentMethod": "STRIPE"}, format="json")
    assert (response.status_code, response.json()["code"]) == (403, "wallet_suspended")
    assert Recharge.objects.count() == 0


def history(client, user_id, **params):
    return client.get("/v1/wallet/history", {"userId": user_id, **params})


def test_history_lists_each_movement_newest_first(webuddy_client):
    user, expert = funded_user(webuddy_client, 500), create_user(webuddy_client)
    session = webuddy_client.post("/v1/sessions/start", {"userId": user["id"], "expertId": expert["id"], "sessionFee": 100}, format="json").json()
    webuddy_client.post("/v1/sessions/end", {"sessionId": session["id"], "expertId": expert["id"], "actualFee": 60}, format="json")

    response = history(webuddy_client, user["id"])

    assert response.status_code == 200
    body = response.json()
    assert (body["page"], body["pageSize"], body["total"], body["totalPages"]) == (1, 10, 3, 1)
    items = body["items"]
    assert set(items[0]) == {"id", "type", "amount", "currency", "direction", "balanceAfter", "description", "referenceType", "referenceId", "createdAt"}
    assert [(i["type"], i["direction"], i["amount"], i["balanceAfter"]) for i in items] == [
        ("debit", "debit", 60, 440),
        ("freeze", "debit", 100, 500),
        ("deposit", "credit", 500, 500),
    ]
    assert (items[0]["referenceType"], items[0]["referenceId"]) == ("session", session["id"])
    assert items[2]["description"] == "Wallet recharge via Razorpay" and items[2]["referenceType"] == "recharge"
    assert all(i["currency"] == "INR" for i in items)
    expert_items = history(webuddy_client, expert["id"]).json()["items"]
    assert [(i["type"], i["direction"], i["amount"]) for i in expert_items] == [("credit", "credit", 54)]


def test_history_pages(webuddy_client):
    user = create_user(webuddy_client)
    for amount in range(1, 26):
        recharge(webuddy_client, user["id"], amount)

    first = history(webuddy_client, user["id"], page=1, pageSize=10).json()
    third = history(webuddy_client, user["id"], page=3, pageSize=10).json()
    beyond = history(webuddy_client, user["id"], page=4, pageSize=10).json()

    assert (first["total"], first["totalPages"]) == (25, 3)
    assert [i["amount"] for i in first["items"]] == list(range(25, 15, -1))
    assert [i["amount"] for i in third["items"]] == list(range(5, 0, -1))
    assert beyond["items"] == []


def test_history_filters_by_type_and_time(webuddy_client):
    user, expert = funded_user(webuddy_client, 500), create_user(webuddy_client)
    webuddy_client.post("/v1/sessions/start", {"userId": user["id"], "expertId": expert["id"], "sessionFee": 100}, format="json")

    deposits = history(webuddy_client, user["id"], type="deposit").json()
    assert [i["type"] for i in deposits["items"]] == ["deposit"] and deposits["total"] == 1
    future = (timezone.now() + timedelta(minutes=5)).isoformat()
    past = (timezone.now() - timedelta(minutes=5)).isoformat()
    assert history(webuddy_client, user["id"], **{"from": future}).json()["total"] == 0
    assert history(webuddy_client, user["id"], **{"from": past, "to": future}).json()["total"] == 2
    assert history(webuddy_client, user["id"], to=past).json()["total"] == 0


@pytest.mark.parametrize(
    "params",
    [{}, {"page": 0}, {"pageSize": 101}, {"pageSize": "x"}, {"type": "bogus"}, {"from": "yesterday"}],
)
def test_bad_history_queries_are_400(webuddy_client, params):
    user = create_user(webuddy_client)
    query = {"userId": user["id"], **params} if params else {}
    response = webuddy_client.get("/v1/wallet/history", query)
    assert (response.status_code, response.json()["code"]) == (400, "validation_error")


def test_history_of_an_unknown_user_is_404(webuddy_client):
    response = history(webuddy_client, "00000000-0000-0000-0000-000000000000")
    assert (response.status_code, response.json()["code"]) == (404, "user_not_found")
