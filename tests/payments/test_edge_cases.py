"""The edges a payments review found: a refused repeat of a payout create, a second payment of a
recharge already paid, events in a currency we do not keep, signatures that are not ASCII, terminal
statuses that must not move back, signed payloads we cannot use."""
import json
import time
from datetime import timedelta

import pytest
import requests
from django.core.management import call_command
from django.utils import timezone
from rest_framework.test import APIClient

from payouts.models import Payout
from tests.payments import test_stripe as stripe_tests
from tests.payments.conftest import RAZORPAY, STRIPE, razorpay_webhook, stripe_event, stripe_webhook
from tests.payments.test_razorpay import (
    captured_event,
    checkout_signature,
    expert_with_bank,
    manual_payout,
    payment,
    payout_event,
    razorpayx_mocks,
    start_recharge,
    wallet,
)
from wallets.models import GatewayEvent

pytestmark = pytest.mark.django_db


def test_a_refused_repeat_of_a_payout_create_keeps_it_processing_until_the_provider_says(live, http, client):
    expert, bank = expert_with_bank(client, 1000)
    http.post(f"{RAZORPAY}/v1/contacts", json={"id": "cont_1"}, status=201)
    http.post(f"{RAZORPAY}/v1/fund_accounts", json={"id": "fa_1"}, status=201)
    http.post(f"{RAZORPAY}/v1/payouts", body=requests.exceptions.ReadTimeout("slow"))  # RazorpayX made it anyway
    body = manual_payout(client, expert, bank, amount=400).json()
    Payout.objects.update(created_at=timezone.now() - timedelta(hours=1))
    http.get(f"{RAZORPAY}/v1/payouts", json={"error": {"description": "try later"}}, status=503)
    http.replace("POST", f"{RAZORPAY}/v1/payouts", status=409, json={"error": {
        "code": "BAD_REQUEST_ERROR", "description": "request with the same idempotency key is being processed"}})

    call_command("sync_gateway_status")
    assert (Payout.objects.get().status, wallet(client, expert)["heldBalance"]) == ("processing", 400)
    late = razorpay_webhook(client, payout_event("payout.processed", "pout_1", body["id"]))

    assert late.json()["status"] == "applied"
    assert (Payout.objects.get().status, wallet(client, expert)["balance"]) == ("paid", 600)


def test_a_stripe_idempotency_conflict_on_a_repeat_is_not_a_failure(live, http, client):
    expert, bank = expert_with_bank(client, 1000, stripeAccountId="acct_123")
    http.post(f"{STRIPE}/v1/transfers", body=requests.exceptions.ReadTimeout("slow"))
    manual_payout(client, expert, bank, amount=400, method="STRIPE")
    Payout.objects.update(created_at=timezone.now() - timedelta(hours=1))
    http.get(f"{STRIPE}/v1/transfers", json={"object": "list", "data": [], "has_more": False})
    http.replace("POST", f"{STRIPE}/v1/transfers", status=409, json={"error": {
        "type": "idempotency_error", "message": "another in-progress request using this Idempotency Key"}})

    call_command("sync_gateway_status")

    assert Payout.objects.get().status == "processing" and wallet(client, expert)["heldBalance"] == 400


def test_a_repeat_finds_the_transfer_stripe_made_instead_of_making_another(live, http, client):
    expert, bank = expert_with_bank(client, 1000, stripeAccountId="acct_123")
    http.post(f"{STRIPE}/v1/transfers", body=requests.exceptions.ReadTimeout("slow"))
    payout = manual_payout(client, expert, bank, amount=400, method="STRIPE").json()
    Payout.objects.update(created_at=timezone.now() - timedelta(hours=1))
    http.get(f"{STRIPE}/v1/transfers", json={"object": "list", "has_more": False, "data": [
        {"id": "tr_made", "object": "transfer", "amount": 40000, "transfer_group": payout["id"], "reversed": False}]})

    call_command("sync_gateway_status")

    assert (Payout.objects.get().status, Payout.objects.get().provider_payout_id) == ("paid", "tr_made")
    assert len([c for c in http.calls if c.request.method == "POST"]) == 1  # only the first, lost, attempt


def test_verify_never_captures_a_second_payment_of_a_recharge_already_paid(live, http, client):
    user, response = start_recharge(client, http)
    razorpay_webhook(client, captured_event(payment_id="pay_A"))
    http.get(f"{RAZORPAY}/v1/payments/pay_B", json=payment(payment_id="pay_B", status="authorized"))

    refused = client.post("/v1/wallet/recharge/verify", {
        "rechargeId": response.json()["id"], "razorpayOrderId": "order_N1", "razorpayPaymentId": "pay_B",
        "razorpaySignature": checkout_signature("order_N1", "pay_B")}, format="json")

    assert (refused.status_code, refused.json()["code"]) == (409, "payment_not_captured")
    assert not [c for c in http.calls if c.request.url.endswith("/capture")]
    assert wallet(client, user)["balance"] == 500
    left = GatewayEvent.objects.get(event_id="uncaptured:pay_B")
    assert (left.outcome, left.object_id) == ("conflict", response.json()["id"])
    fetches = len(http.calls)
    client.post("/v1/wallet/recharge/verify", {  # again: answered from what is known, no call
        "rechargeId": response.json()["id"], "razorpayOrderId": "order_N1", "razorpayPaymentId": "pay_B",
        "razorpaySignature": checkout_signature("order_N1", "pay_B")}, format="json")
    assert len(http.calls) == fetches


def test_a_second_captured_payment_is_flagged_for_finance_not_credited(live, http, client):
    user, _ = start_recharge(client, http)
    razorpay_webhook(client, captured_event(payment_id="pay_A"))

    second = razorpay_webhook(client, captured_event(payment_id="pay_B"))

    assert second.json()["status"] == "conflict" and wallet(client, user)["balance"] == 500
    assert GatewayEvent.objects.filter(outcome="conflict", object_type="recharge").count() == 1


@pytest.mark.parametrize("currency", ["eur", "jpy"])
def test_a_stripe_event_in_a_currency_we_do_not_keep_is_recorded(live, client, currency):
    response = stripe_webhook(stripe_event("payment_intent.succeeded", stripe_tests.intent(intent_id="pi_other", currency=currency)))
    assert (response.status_code, response.json()["status"]) == (200, "unknown")
    assert GatewayEvent.objects.count() == 1


def test_signatures_that_are_not_ascii_are_400_not_500(live, client):
    raw = json.dumps(captured_event()).encode()
    razorpay = APIClient(raise_request_exception=False).post(
        "/v1/webhooks/razorpay", data=raw, content_type="application/json",
        HTTP_X_RAZORPAY_EVENT_ID="e1", HTTP_X_RAZORPAY_SIGNATURE="\u00e9")
    stripe = APIClient(raise_request_exception=False).post(
        "/v1/webhooks/stripe", data=raw, content_type="application/json", HTTP_STRIPE_SIGNATURE=f"t={int(time.time())},v1=\u00e9")
    assert (razorpay.status_code, stripe.status_code) == (400, 400)


def test_a_verify_signature_that_is_not_ascii_is_400(live, http, client):
    _, response = start_recharge(client, http)
    refused = client.post("/v1/wallet/recharge/verify", {"rechargeId": response.json()["id"], "razorpayOrderId": "order_N1",
                          "razorpayPaymentId": "pay_P1", "razorpaySignature": "\u00e9" * 64}, format="json")
    assert (refused.status_code, refused.json()["code"]) == (400, "invalid_signature")


def test_a_failed_event_after_a_reversal_does_not_move_the_payout_back(live, http, client):
    expert, bank = expert_with_bank(client, 1000)
    razorpayx_mocks(http)
    payout = manual_payout(client, expert, bank, amount=400).json()
    razorpay_webhook(client, payout_event("payout.reversed", "pout_1", payout["id"]))

    late = razorpay_webhook(client, payout_event("payout.failed", "pout_1", payout["id"]))

    assert late.json()["status"] == "ignored"
    assert Payout.objects.get().status == "reversed" and wallet(client, expert)["balance"] == 1000


@pytest.mark.parametrize("payload", [
    {"event": "payment.captured", "payload": {"payment": {"entity": {**payment(), "amount": "lots"}}}},
    {"event": "payout.processed", "payload": {"payout": {"entity": {"id": "pout_x", "reference_id": 7}}}},
])
def test_signed_events_we_cannot_use_are_recorded_not_retried_forever(live, http, client, payload):
    start_recharge(client, http)

    response = razorpay_webhook(client, payload)

    assert (response.status_code, response.json()["status"]) == (200, "unknown")
    assert GatewayEvent.objects.get().outcome == "unknown"


def test_a_webhook_with_nan_in_it_is_400(live, client):
    body = b'{"event": "payment.captured", "payload": {"amount": NaN}}'
    import hashlib
    import hmac

    signature = hmac.new(b"rzp_webhook_secret", body, hashlib.sha256).hexdigest()
    response = razorpay_webhook(client, {}, body=body, signature=signature)
    assert (response.status_code, response.json()["code"]) == (400, "validation_error")


def test_an_event_the_database_cannot_keep_verbatim_is_applied_and_noted(live, http, client):
    user, _ = start_recharge(client, http)

    response = razorpay_webhook(client, {"event": "payment.captured", "payload": {"payment": {"entity": {
        **payment(), "notes": "a\u0000b"}}}})

    assert response.json()["status"] == "applied" and wallet(client, user)["balance"] == 500
    assert "could not be stored" in GatewayEvent.objects.get().payload["note"]
