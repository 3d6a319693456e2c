"""At most one capture per Razorpay recharge: a payer may authorize two payments of one order (a
second attempt, a second tab). Whatever answers are lost and whatever races, one payment is captured
and credited; any other is left uncaptured (Razorpay returns it to the payer) and recorded for
finance as a conflict. Razorpay's payments are played by `RazorpayPayments` (tests/payments/conftest.py)."""
import threading
from datetime import timedelta

import pytest
import requests
from django.core.management import call_command
from django.db import connections
from django.utils import timezone

from tests.payments.conftest import RAZORPAY
from tests.payments.test_razorpay import checkout_signature, start_recharge, wallet
from wallets.models import Entry, GatewayEvent, Recharge

pytestmark = pytest.mark.django_db


def verify(client, recharge_id, payment_id):
    return client.post("/v1/wallet/recharge/verify", {
        "rechargeId": recharge_id, "razorpayOrderId": "order_N1", "razorpayPaymentId": payment_id,
        "razorpaySignature": checkout_signature("order_N1", payment_id)}, format="json")


def lose_the_answer(payment_id):
    raise requests.exceptions.ReadTimeout("the capture's answer was lost")


def left_for_finance(payment_id) -> bool:
    return GatewayEvent.objects.filter(outcome="conflict", object_type="recharge", detail__startswith=payment_id).exists()


def test_the_sync_applies_the_payment_captured_before_its_answer_was_lost_and_captures_no_other(
        live, http, client, razorpay):
    user, response = start_recharge(client, http)
    recharge_id = response.json()["id"]
    razorpay.pay("pay_P1")
    razorpay.pay("pay_P2")  # newer: Razorpay lists it first
    razorpay.after_capture = lose_the_answer

    lost = verify(client, recharge_id, "pay_P1")

    assert (lost.status_code, lost.json()["code"]) == (502, "gateway_unavailable")
    assert (razorpay.status("pay_P1"), Recharge.objects.get().status) == ("captured", "pending")
    razorpay.after_capture = lambda payment_id: None
    Recharge.objects.update(created_at=timezone.now() - timedelta(hours=1))
    call_command("sync_gateway_status")

    recharge = Recharge.objects.get()
    assert (recharge.status, recharge.provider_payment_id) == ("succeeded", "pay_P1")
    assert razorpay.captures == ["pay_P1"] and razorpay.status("pay_P2") == "authorized"
    assert wallet(client, user)["balance"] == 500 and left_for_finance("pay_P2")


def test_verify_of_a_second_payment_when_the_first_was_captured_credits_the_first_and_captures_nothing(
        live, http, client, razorpay):
    user, response = start_recharge(client, http)
    recharge_id = response.json()["id"]
    razorpay.pay("pay_P1")
    razorpay.pay("pay_P2")
    razorpay.after_capture = lose_the_answer
    verify(client, recharge_id, "pay_P1")
    razorpay.after_capture = lambda payment_id: None

    second = verify(client, recharge_id, "pay_P2")

    assert (second.status_code, second.json()["code"]) == (409, "payment_not_captured")
    assert "Another payment" in second.json()["message"]
    assert razorpay.captures == ["pay_P1"] and razorpay.status("pay_P2") == "authorized"
    assert Recharge.objects.get().provider_payment_id == "pay_P1" and wallet(client, user)["balance"] == 500
    assert left_for_finance("pay_P2")
    retried = verify(client, recharge_id, "pay_P1")  # the first verify's retry now finds it paid
    assert (retried.status_code, retried.json()["status"]) == (200, "succeeded")


def test_the_sync_captures_only_the_oldest_of_two_authorized_payments(live, http, client, razorpay):
    user, _ = start_recharge(client, http)
    razorpay.pay("pay_P1")
    razorpay.pay("pay_P2")
    Recharge.objects.update(created_at=timezone.now() - timedelta(hours=1))

    call_command("sync_gateway_status")
    call_command("sync_gateway_status")  # again: nothing more

    assert razorpay.captures == ["pay_P1"] and razorpay.status("pay_P2") == "authorized"
    assert wallet(client, user)["balance"] == 500 and left_for_finance("pay_P2")
    assert GatewayEvent.objects.filter(outcome="conflict").count() == 1


def test_a_claim_is_never_moved_to_another_payment(live, http, client, razorpay):
    """Even when a listing shows the claimed payment failed (a stale answer: Razorpay may still
    authorize it late, and another settler may be capturing it), no other payment is captured."""
    user, response = start_recharge(client, http)
    razorpay.pay("pay_P1", status="failed")
    Recharge.objects.update(capture_payment_id="pay_P1", created_at=timezone.now() - timedelta(hours=1))
    razorpay.pay("pay_P2")

    call_command("sync_gateway_status")
    refused = verify(client, response.json()["id"], "pay_P2")

    assert razorpay.captures == [] and Recharge.objects.get().capture_payment_id == "pay_P1"
    assert (refused.status_code, refused.json()["code"]) == (409, "payment_not_captured")
    assert "Another payment" in refused.json()["message"]
    assert wallet(client, user)["balance"] == 0 and left_for_finance("pay_P2")


def test_a_second_captured_payment_applied_from_a_stale_read_is_a_conflict_not_applied(live, http, client):
    """Two `payment.captured` webhooks (or a webhook and the sync) read the recharge pending at once:
    the second to reach the row lock finds it paid by the other payment."""
    from decimal import Decimal

    from wallets.gateways import GatewayPayment
    from wallets.services.recharges import recharge_apply_payment

    user, _ = start_recharge(client, http)
    stale = Recharge.objects.get()

    def captured(payment_id):
        return GatewayPayment(provider_payment_id=payment_id, provider_order_id="order_N1", status="captured",
                              amount=Decimal(500), currency="INR")

    first = recharge_apply_payment(recharge=stale, payment=captured("pay_P1"))
    second = recharge_apply_payment(recharge=stale, payment=captured("pay_P2"))

    assert (first, second) == ("applied", "conflict")
    assert Recharge.objects.get().provider_payment_id == "pay_P1" and wallet(client, user)["balance"] == 500


def test_verify_trusts_its_fresher_read_of_the_payment_over_a_lagging_listing(live, http, client, razorpay):
    """The order's listing still shows P2 `created` while the fetch of P2 says authorized: P2 is the one
    verified, claimed and captured; P1 is left for finance only because P2 paid."""
    user, response = start_recharge(client, http)
    razorpay.pay("pay_P1")
    razorpay.pay("pay_P2")
    razorpay.listed_as["pay_P2"] = "created"

    verified = verify(client, response.json()["id"], "pay_P2")

    assert (verified.status_code, verified.json()["status"]) == (200, "succeeded")
    assert razorpay.captures == ["pay_P2"] and wallet(client, user)["balance"] == 500
    assert left_for_finance("pay_P1") and not left_for_finance("pay_P2")


def test_a_listing_that_lags_without_the_fetched_payment_claims_nothing_and_flags_nothing(live, http, client, razorpay):
    from wallets.services.recharges import recharge_capture

    user, response = start_recharge(client, http)
    recharge_id = response.json()["id"]
    razorpay.pay("pay_P1", status="created")
    razorpay.pay("pay_P2")
    Recharge.objects.update(created_at=timezone.now() - timedelta(hours=1))
    razorpay.listed_as["pay_P2"] = "created"

    recharge_capture(recharge_id=recharge_id)  # sees no authorized payment yet
    assert razorpay.captures == [] and GatewayEvent.objects.count() == 0
    del razorpay.listed_as["pay_P2"]
    recharge_capture(recharge_id=recharge_id)
    assert razorpay.captures == ["pay_P2"] and wallet(client, user)["balance"] == 500


def test_an_authorized_payment_webhook_queues_a_capture_that_captures_it_once(live, http, client, razorpay):
    from tests.events.test_jobs import queued
    from tests.payments.conftest import razorpay_webhook
    from wallets.services.recharges import recharge_capture

    user, response = start_recharge(client, http)
    recharge_id = response.json()["id"]
    event = {"entity": "event", "event": "payment.authorized", "contains": ["payment"],
             "payload": {"payment": {"entity": razorpay.pay("pay_P1")}}}

    before = queued("wallets.recharge_capture")
    answer = razorpay_webhook(client, event)
    razorpay_webhook(client, event)  # Razorpay sends it again: another job, safe to run twice
    assert (answer.status_code, answer.json()["status"]) == (200, "applied")
    assert queued("wallets.recharge_capture") == before + 2
    assert wallet(client, user)["balance"] == 0  # the capture is a job's: no outside call inside the webhook
    for _ in range(2):  # the job, and the job again (a worker that died after the call)
        recharge_capture(recharge_id=recharge_id)

    assert razorpay.captures == ["pay_P1"] and wallet(client, user)["balance"] == 500


def test_the_order_asks_razorpay_to_leave_the_capture_to_us(live, http, client):
    from tests.payments.conftest import sent_json

    start_recharge(client, http)

    (create,) = http.calls
    assert sent_json(create)["payment"] == {"capture": "manual"}


@pytest.mark.races
@pytest.mark.django_db(transaction=True)
def test_many_payments_claiming_at_once_leave_one_holder(live, http, client):
    from wallets.services.recharges import recharge_capture_claim

    start_recharge(client, http)
    recharge_id = Recharge.objects.get().pk
    barrier, holders = threading.Barrier(8), []

    def claim(n):
        try:
            barrier.wait(timeout=30)
            holders.append(recharge_capture_claim(recharge_id=recharge_id, payment_id=f"pay_{n}"))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=claim, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert len(holders) == 8 and len(set(holders)) == 1
    assert Recharge.objects.get().capture_payment_id == holders[0]


def test_a_razorpay_order_whose_answer_was_lost_is_found_by_its_receipt(live, http, client, razorpay):
    from tests.payments.test_razorpay import create_user

    user = create_user(client)
    http.post(f"{RAZORPAY}/v1/orders", body=requests.exceptions.ReadTimeout("slow"))
    client.post("/v1/wallet/recharge", {"userId": user["id"], "amount": 500, "paymentMethod": "RAZORPAY"}, format="json")
    recharge = Recharge.objects.get()
    Recharge.objects.update(created_at=timezone.now() - timedelta(hours=1))
    http.get(f"{RAZORPAY}/v1/orders", json={"entity": "collection", "count": 2, "items": [
        {"id": "order_other", "entity": "order", "amount": 50000, "currency": "INR", "receipt": "someone-else"},
        {"id": "order_N1", "entity": "order", "amount": 50000, "currency": "INR", "receipt": str(recharge.id)}]})
    razorpay.pay("pay_P1")  # impossible without the order id, but the sync must capture whatever is there

    call_command("sync_gateway_status")

    recharge.refresh_from_db()
    assert (recharge.provider_order_id, recharge.status) == ("order_N1", "succeeded")
    assert recharge.checkout["orderId"] == "order_N1" and razorpay.captures == ["pay_P1"]
    (lookup,) = [c for c in http.calls if c.request.method == "GET" and "/v1/orders?" in c.request.url]
    assert f"receipt={recharge.id}" in lookup.request.url


def test_an_unpaid_razorpay_recharge_expires_and_money_arriving_later_is_still_credited(live, http, client, razorpay,
                                                                                      settings):
    from tests.payments.conftest import razorpay_webhook
    from tests.payments.test_razorpay import captured_event

    user, _ = start_recharge(client, http)
    Recharge.objects.update(created_at=timezone.now() - timedelta(hours=settings.RECHARGE_EXPIRE_HOURS + 1))

    call_command("sync_gateway_status")
    assert (Recharge.objects.get().status, Recharge.objects.get().failure_reason) == (
        "failed", f"not paid within {settings.RECHARGE_EXPIRE_HOURS} hours")

    razorpay_webhook(client, captured_event())
    assert Recharge.objects.get().status == "succeeded" and wallet(client, user)["balance"] == 500


def test_a_payment_captured_by_razorpay_itself_while_another_holds_the_claim_is_credited_and_the_claim_not_captured(
        live, http, client, razorpay):
    user, _ = start_recharge(client, http)
    razorpay.pay("pay_P1")
    Recharge.objects.update(capture_payment_id="pay_P1", created_at=timezone.now() - timedelta(hours=1))
    razorpay.pay("pay_P2", status="captured")  # automatic capture at Razorpay

    call_command("sync_gateway_status")

    assert Recharge.objects.get().provider_payment_id == "pay_P2" and razorpay.captures == []
    assert razorpay.status("pay_P1") == "authorized" and left_for_finance("pay_P1")
    assert wallet(client, user)["balance"] == 500


@pytest.mark.races
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("held", ["before_capture", "after_capture"])
def test_two_verifies_racing_capture_one_payment(live, http, client, razorpay, held):
    """The first verify's capture is held at Razorpay (before it captures, or after, with its answer on
    the way) while a verify of a second payment of the order runs to its end."""
    user, response = start_recharge(client, http)
    recharge_id = response.json()["id"]
    razorpay.pay("pay_P1")
    razorpay.pay("pay_P2")
    inside, release = threading.Event(), threading.Event()

    def hold(payment_id):
        inside.set()
        release.wait(timeout=30)

    setattr(razorpay, held, hold)
    answers = {}

    def first():
        try:
            answers["pay_P1"] = verify(client, recharge_id, "pay_P1")
        finally:
            connections.close_all()

    thread = threading.Thread(target=first)
    thread.start()
    assert inside.wait(timeout=30)
    setattr(razorpay, held, lambda payment_id: None)
    answers["pay_P2"] = verify(client, recharge_id, "pay_P2")
    release.set()
    thread.join(timeout=60)

    assert (answers["pay_P1"].status_code, answers["pay_P1"].json()["status"]) == (200, "succeeded")
    assert (answers["pay_P2"].status_code, answers["pay_P2"].json()["code"]) == (409, "payment_not_captured")
    assert razorpay.captures == ["pay_P1"] and razorpay.status("pay_P2") == "authorized"
    assert Recharge.objects.get().provider_payment_id == "pay_P1" and wallet(client, user)["balance"] == 500
    assert Entry.objects.filter(account__user_id=user["id"], type="deposit").count() == 1
    assert left_for_finance("pay_P2")
