"""Verify and the webhook racing for the same Razorpay payment, for real on PostgreSQL: whichever
comes first credits, the other changes nothing; the wallet is credited exactly once."""
import threading
from decimal import Decimal

import pytest
from django.db import connections

from tests.invariants import assert_ledger_invariants
from tests.payments.conftest import razorpay_webhook
from tests.payments.test_razorpay import captured_event, checkout_signature, start_recharge, wallet
from wallets.models import Entry, GatewayEvent, Recharge

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.races]
D = Decimal


@pytest.mark.parametrize("rounds", range(3))
def test_verify_and_webhook_racing_credit_once(live, http, client, razorpay, rounds):
    user, response = start_recharge(client, http)
    recharge_id = response.json()["id"]
    razorpay.pay("pay_P1", status="captured")
    barrier = threading.Barrier(4)
    results = []

    def verify():
        try:
            barrier.wait(timeout=30)
            results.append(client.post("/v1/wallet/recharge/verify", {
                "rechargeId": recharge_id, "razorpayOrderId": "order_N1", "razorpayPaymentId": "pay_P1",
                "razorpaySignature": checkout_signature("order_N1", "pay_P1")}, format="json").status_code)
        finally:
            connections.close_all()

    def webhook(event_id):
        try:
            barrier.wait(timeout=30)
            results.append(razorpay_webhook(client, captured_event(), event_id=event_id).status_code)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=verify), threading.Thread(target=verify),
               threading.Thread(target=webhook, args=("evt_a",)), threading.Thread(target=webhook, args=("evt_a",))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)

    assert sorted(results) == [200, 200, 200, 200]
    assert wallet(client, user)["balance"] == 500
    assert Recharge.objects.get(pk=recharge_id).status == "succeeded"
    assert Entry.objects.filter(account__user_id=user["id"], type="deposit").count() == 1
    assert GatewayEvent.objects.filter(event_id="evt_a").count() == 1
    assert_ledger_invariants()
