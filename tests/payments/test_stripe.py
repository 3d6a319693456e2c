"""Stripe in live mode: recharges as PaymentIntents (idempotency key derived from the recharge),
signed webhooks checked by the SDK (any v1, 300 s tolerance), payouts as Connect transfers to the
expert's connected account, reversals credited back."""
import json
import time
from datetime import timedelta
from decimal import Decimal

import pytest
import requests
from django.core.management import call_command
from django.utils import timezone

from payouts.models import Payout
from tests.payments.conftest import STRIPE, sent_form, stripe_event, stripe_signature, stripe_webhook
from tests.payments.test_razorpay import expert_with_bank, manual_payout, wallet
from tests.webuddy.helpers import create_user
from wallets.models import GatewayEvent, Recharge
from wallets.selectors import system_account_balance

pytestmark = pytest.mark.django_db
D = Decimal


def intent(intent_id="pi_1", amount_received=50000, status="succeeded", currency="inr", **extra):
    return {"id": intent_id, "object": "payment_intent", "amount": 50000, "amount_received": amount_received,
            "currency": currency, "status": status, "client_secret": f"{intent_id}_secret_abc", **extra}


def start_recharge(client, http, amount=500, key=None):
    user = create_user(client)
    http.post(f"{STRIPE}/v1/payment_intents", json=intent(amount_received=0, status="requires_payment_method"))
    headers = {"HTTP_IDEMPOTENCY_KEY": key} if key else {}
    response = client.post("/v1/wallet/recharge", {"userId": user["id"], "amount": amount, "paymentMethod": "STRIPE"},
                           format="json", **headers)
    return user, response


def test_a_recharge_creates_a_payment_intent_with_our_idempotency_key(live, http, client):
    user, response = start_recharge(client, http)

    body = response.json()
    assert (response.status_code, body["status"], body["providerOrderId"]) == (201, "pending", "pi_1")
    assert body["checkout"] == {"paymentIntentId": "pi_1", "clientSecret": "pi_1_secret_abc"}
    (call,) = http.calls
    assert call.request.headers["Idempotency-Key"] == f"recharge-{body['id']}"
    assert call.request.headers["Authorization"] == "Bearer sk_test_123"
    assert sent_form(call) == {"amount": "50000", "currency": "inr", "metadata[rechargeId]": body["id"],
                               "metadata[userId]": user["id"]}
    assert wallet(client, user)["balance"] == 0


def test_payment_intent_succeeded_credits_once(live, http, client):
    user, _ = start_recharge(client, http)
    event = stripe_event("payment_intent.succeeded", intent())

    first, replay = stripe_webhook(event), stripe_webhook(event)

    assert [r.json()["status"] for r in (first, replay)] == ["applied", "replayed"]
    assert wallet(client, user)["balance"] == 500
    assert Recharge.objects.get().provider_payment_id == "pi_1"
    assert system_account_balance(tenant="webuddy", code="gateway_clearing", currency="INR") == D(-500)


@pytest.mark.parametrize("how", ["wrong secret", "stale timestamp", "tampered body", "no header", "not hex"])
def test_a_bad_stripe_signature_is_400_and_changes_nothing(live, http, client, how):
    user, _ = start_recharge(client, http)
    event = stripe_event("payment_intent.succeeded", intent())
    raw = json.dumps(event).encode()
    kwargs = {
        "wrong secret": {"secret": "whsec_other"},
        "stale timestamp": {"at": time.time() - 301},
        "tampered body": {"body": raw.replace(b"50000", b"90000"), "signature": stripe_signature(raw)},
        "no header": {"signature": ""},
        "not hex": {"signature": f"t={int(time.time())},v1=zz"},
    }[how]

    response = stripe_webhook(event, **kwargs)

    assert (response.status_code, response.json()["code"]) == (400, "invalid_signature")
    assert wallet(client, user)["balance"] == 0 and GatewayEvent.objects.count() == 0


def test_any_matching_v1_signature_is_accepted(live, http, client):
    user, _ = start_recharge(client, http)
    event = stripe_event("payment_intent.succeeded", intent())
    raw = json.dumps(event).encode()
    t = int(time.time())
    good = stripe_signature(raw, at=t).split(",v1=")[1]

    response = stripe_webhook(event, signature=f"t={t},v1={'0' * 64},v1={good}")

    assert (response.status_code, response.json()["status"]) == (200, "applied")
    assert wallet(client, user)["balance"] == 500


def test_a_failed_payment_fails_the_recharge_and_a_short_payment_is_not_credited(live, http, client):
    user, _ = start_recharge(client, http)
    failed = stripe_webhook(stripe_event("payment_intent.payment_failed", intent(
        status="requires_payment_method", amount_received=0, last_payment_error={"message": "Your card was declined."})))
    assert failed.json()["status"] == "applied"
    assert (Recharge.objects.get().status, Recharge.objects.get().failure_reason) == ("failed", "Your card was declined.")

    short = stripe_webhook(stripe_event("payment_intent.succeeded", intent(amount_received=49900)))

    assert short.json()["status"] == "mismatch" and wallet(client, user)["balance"] == 0


def test_an_intent_whose_create_timed_out_is_learned_by_the_sync_with_the_same_key(live, http, client):
    """Stripe made the PaymentIntent but its answer was lost: the sync asks again with our key and
    Stripe gives back the intent it made; the client's retry then gets its checkout."""
    user = create_user(client)
    http.post(f"{STRIPE}/v1/payment_intents", body=requests.exceptions.ReadTimeout("slow"))
    body = {"userId": user["id"], "amount": 500, "paymentMethod": "STRIPE"}

    first = client.post("/v1/wallet/recharge", body, format="json", HTTP_IDEMPOTENCY_KEY="rc-1")

    assert (first.status_code, first.json()["code"]) == (502, "gateway_unavailable")
    Recharge.objects.update(created_at=timezone.now() - timedelta(hours=1))
    http.replace("POST", f"{STRIPE}/v1/payment_intents", json=intent(amount_received=0, status="requires_payment_method"))
    http.get(f"{STRIPE}/v1/payment_intents/pi_1", json=intent(amount_received=0, status="requires_payment_method"))
    call_command("sync_gateway_status")

    recharge = Recharge.objects.get()
    assert (recharge.status, recharge.provider_order_id) == ("pending", "pi_1")
    creates = [c for c in http.calls if c.request.method == "POST"]
    assert len(creates) == 2 and {c.request.headers["Idempotency-Key"] for c in creates} == {f"recharge-{recharge.id}"}
    retried = client.post("/v1/wallet/recharge", body, format="json", HTTP_IDEMPOTENCY_KEY="rc-1")
    assert (retried.status_code, retried.json()["checkout"]["paymentIntentId"]) == (201, "pi_1")
    assert len([c for c in http.calls if c.request.method == "POST"]) == 2  # the retry asked nothing more
    http.get(f"{STRIPE}/v1/payment_intents/pi_1", json=intent())  # the payer pays; its webhook is lost
    call_command("sync_gateway_status")
    assert Recharge.objects.get().status == "succeeded" and wallet(client, user)["balance"] == 500


def test_an_unanswered_create_past_stripes_key_window_is_failed_without_a_second_create(live, http, client):
    """Stripe may have forgotten the key after a day: asked again, it could make a second intent.
    The first one's client secret never reached the payer, so nobody can have paid it."""
    user = create_user(client)
    http.post(f"{STRIPE}/v1/payment_intents", body=requests.exceptions.ConnectionError("refused"))
    client.post("/v1/wallet/recharge", {"userId": user["id"], "amount": 5, "paymentMethod": "STRIPE"}, format="json")
    Recharge.objects.update(created_at=timezone.now() - timedelta(hours=30))

    call_command("sync_gateway_status")

    recharge = Recharge.objects.get()
    assert (recharge.status, recharge.provider_order_id) == ("failed", None)
    assert len(http.calls) == 1  # only the first, lost, create


def test_an_intent_nobody_paid_is_cancelled_and_failed_once_it_expires(live, http, client, settings):
    user, response = start_recharge(client, http)
    Recharge.objects.update(created_at=timezone.now() - timedelta(hours=settings.RECHARGE_EXPIRE_HOURS + 1))
    http.get(f"{STRIPE}/v1/payment_intents/pi_1", json=intent(amount_received=0, status="requires_payment_method"))
    http.post(f"{STRIPE}/v1/payment_intents/pi_1/cancel", json=intent(amount_received=0, status="canceled"))

    call_command("sync_gateway_status")

    assert Recharge.objects.get().status == "failed" and wallet(client, user)["balance"] == 0
    (cancel,) = [c for c in http.calls if c.request.url.endswith("/cancel")]
    assert cancel.request.headers["Idempotency-Key"] == f"recharge-{response.json()['id']}-cancel"


def test_an_intent_paid_just_before_it_expires_is_credited_not_cancelled(live, http, client, settings):
    user, _ = start_recharge(client, http)
    Recharge.objects.update(created_at=timezone.now() - timedelta(hours=settings.RECHARGE_EXPIRE_HOURS + 1))
    http.get(f"{STRIPE}/v1/payment_intents/pi_1", json=intent(amount_received=0, status="processing"))
    http.post(f"{STRIPE}/v1/payment_intents/pi_1/cancel", status=400, json={"error": {
        "type": "invalid_request_error", "message": "You cannot cancel this PaymentIntent because it has a status of succeeded."}})
    http.get(f"{STRIPE}/v1/payment_intents/pi_1", json=intent())  # read again after the refusal: it succeeded

    call_command("sync_gateway_status")

    assert Recharge.objects.get().status == "succeeded" and wallet(client, user)["balance"] == 500
    assert [c.request.method for c in http.calls][-3:] == ["GET", "POST", "GET"]


def test_sync_credits_an_intent_that_succeeded(live, http, client):
    user, response = start_recharge(client, http)
    Recharge.objects.update(created_at=timezone.now() - timedelta(hours=1))
    http.get(f"{STRIPE}/v1/payment_intents/pi_1", json=intent())

    call_command("sync_gateway_status", "--older-than", "30m")

    assert Recharge.objects.get().status == "succeeded" and wallet(client, user)["balance"] == 500


# Payouts as Connect transfers


def test_a_stripe_payout_is_a_transfer_to_the_connected_account(live, http, client):
    expert, bank = expert_with_bank(client, 1000, stripeAccountId="acct_1Nv0FGQ9RKHgCVdK")
    assert bank["stripeAccountId"] == "acct_1Nv0FGQ9RKHgCVdK"
    http.post(f"{STRIPE}/v1/transfers", json={"id": "tr_1", "object": "transfer", "amount": 40000, "amount_reversed": 0})

    response = manual_payout(client, expert, bank, amount=400, method="STRIPE")

    body = response.json()
    assert response.status_code == 201 and (body["status"], body["providerPayoutId"]) == ("paid", "tr_1")
    (call,) = http.calls
    assert call.request.headers["Idempotency-Key"] == body["id"]
    assert sent_form(call) == {"amount": "40000", "currency": "inr", "destination": "acct_1Nv0FGQ9RKHgCVdK",
                               "transfer_group": body["id"], "metadata[payoutId]": body["id"]}
    assert wallet(client, expert)["balance"] == 600


def test_a_stripe_payout_without_a_connected_account_is_400(live, http, client):
    expert, bank = expert_with_bank(client, 1000)

    response = manual_payout(client, expert, bank, amount=400, method="STRIPE")

    assert (response.status_code, response.json()["code"]) == (400, "stripe_account_required")
    assert len(http.calls) == 0 and Payout.objects.count() == 0 and wallet(client, expert)["heldBalance"] == 0


def test_a_reversed_transfer_credits_back_what_came_back(live, http, client):
    expert, bank = expert_with_bank(client, 1000, stripeAccountId="acct_123")
    http.post(f"{STRIPE}/v1/transfers", json={"id": "tr_1", "object": "transfer", "amount": 40000, "amount_reversed": 0})
    payout = manual_payout(client, expert, bank, amount=400, method="STRIPE").json()
    transfer = {"id": "tr_1", "object": "transfer", "amount": 40000, "metadata": {"payoutId": payout["id"]}}

    partly = stripe_webhook(stripe_event("transfer.reversed", {**transfer, "amount_reversed": 15000, "reversed": False}))
    assert partly.json()["status"] == "applied"
    assert (client.get(f"/v1/payouts/{payout['id']}").json()["status"], wallet(client, expert)["balance"]) == ("paid", 750)

    fully = stripe_webhook(stripe_event("transfer.reversed", {**transfer, "amount_reversed": 40000, "reversed": True}))
    assert fully.json()["status"] == "applied"
    assert (client.get(f"/v1/payouts/{payout['id']}").json()["status"], wallet(client, expert)["balance"]) == ("reversed", 1000)
    assert system_account_balance(tenant="webuddy", code="payout_clearing", currency="INR") == 0


def test_a_transfer_that_times_out_stays_processing_until_sync_repeats_it(live, http, client):
    expert, bank = expert_with_bank(client, 1000, stripeAccountId="acct_123")
    http.post(f"{STRIPE}/v1/transfers", body=requests.exceptions.ReadTimeout("slow"))

    body = manual_payout(client, expert, bank, amount=400, method="STRIPE").json()

    assert (body["status"], body["providerPayoutId"]) == ("processing", None)
    assert wallet(client, expert)["heldBalance"] == 400
    Payout.objects.update(created_at=timezone.now() - timedelta(hours=1))
    http.get(f"{STRIPE}/v1/transfers", json={"object": "list", "data": [], "has_more": False})
    http.replace("POST", f"{STRIPE}/v1/transfers", json={"id": "tr_7", "object": "transfer", "amount": 40000})

    call_command("sync_gateway_status")

    assert client.get(f"/v1/payouts/{body['id']}").json()["status"] == "paid"
    keys = {c.request.headers["Idempotency-Key"] for c in http.calls if c.request.method == "POST"}
    assert keys == {body["id"]}
    lookup = [c for c in http.calls if c.request.method == "GET"]
    assert len(lookup) == 1 and f"transfer_group={body['id']}" in lookup[0].request.url
    assert wallet(client, expert) == {"balance": 600, "heldBalance": 0, "availableBalance": 600, "currency": "INR",
                                      "status": "active"}
