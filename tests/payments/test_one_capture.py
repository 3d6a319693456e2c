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
    assert "another payment" in second.json()["message"]
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


def test_a_claim_held_by_a_payment_that_failed_passes_to_the_next(live, http, client, razorpay):
    user, response = start_recharge(client, http)
    razorpay.pay("pay_P1", status="failed")
    Recharge.objects.update(capture_payment_id="pay_P1", created_at=timezone.now() - timedelta(hours=1))
    razorpay.pay("pay_P2")

    call_command("sync_gateway_status")

    assert Recharge.objects.get().provider_payment_id == "pay_P2" and razorpay.captures == ["pay_P2"]
    assert wallet(client, user)["balance"] == 500


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


@pytest.mark.postgres_only
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
