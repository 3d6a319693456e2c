"""Razorpay in live mode: recharges through orders, Checkout's signature verified, payments fetched
and captured, signed webhooks; RazorpayX payouts with contacts, fund accounts and idempotent payouts.
Every outgoing request is asserted exactly (path, amount in paise, currency, headers, body)."""
import base64
import hashlib
import hmac
from decimal import Decimal

import pytest
import requests
from django.core.management import call_command

from experts.models import BankDetail
from payouts.models import Payout
from tests.payments.conftest import KEYS, RAZORPAY, razorpay_webhook, sent_json
from tests.webuddy.helpers import create_user, funded_user
from tests.webuddy.test_bank_details import add as add_bank
from wallets.models import Account, GatewayEvent, Recharge
from wallets.selectors import system_account_balance

pytestmark = pytest.mark.django_db
D = Decimal
AUTH = "Basic " + base64.b64encode(f"{KEYS['RAZORPAY_KEY_ID']}:{KEYS['RAZORPAY_KEY_SECRET']}".encode()).decode()


def checkout_signature(order_id, payment_id, secret=KEYS["RAZORPAY_KEY_SECRET"]):
    return hmac.new(secret.encode(), f"{order_id}|{payment_id}".encode(), hashlib.sha256).hexdigest()


def wallet(client, user):
    return client.get(f"/v1/users/{user['id']}").json()["wallet"]


def order_created(http, order_id="order_N1", amount=50000):
    http.post(f"{RAZORPAY}/v1/orders", json={"id": order_id, "entity": "order", "amount": amount, "currency": "INR",
                                              "status": "created"}, status=200)


def start_recharge(client, http, amount=500, order_id="order_N1", key=None):
    user = create_user(client)
    order_created(http, order_id, amount * 100)
    headers = {"HTTP_IDEMPOTENCY_KEY": key} if key else {}
    response = client.post("/v1/wallet/recharge", {"userId": user["id"], "amount": amount, "paymentMethod": "RAZORPAY"},
                           format="json", **headers)
    return user, response


def payment(payment_id="pay_P1", order_id="order_N1", amount=50000, currency="INR", status="captured"):
    return {"id": payment_id, "entity": "payment", "order_id": order_id, "amount": amount, "currency": currency,
            "status": status}


def captured_event(**kw):
    return {"entity": "event", "event": "payment.captured", "contains": ["payment"],
            "payload": {"payment": {"entity": payment(**kw)}}}


# Recharges


def test_a_recharge_creates_an_order_and_waits_for_the_payment(live, http, client):
    user, response = start_recharge(client, http)

    body = response.json()
    assert response.status_code == 201
    assert (body["status"], body["providerOrderId"], body["amount"]) == ("pending", "order_N1", 500)
    assert body["checkout"] == {"keyId": "rzp_test_key", "orderId": "order_N1", "amount": 50000, "currency": "INR"}
    assert wallet(client, user)["balance"] == 0
    (call,) = http.calls
    assert call.request.url == f"{RAZORPAY}/v1/orders" and call.request.headers["Authorization"] == AUTH
    assert sent_json(call) == {"amount": 50000, "currency": "INR", "receipt": body["id"],
                               "notes": {"rechargeId": body["id"], "userId": user["id"]},
                               "payment": {"capture": "manual"}}
    assert client.get(f"/v1/wallet/recharge/{body['id']}").json() == {**body, "wallet": wallet(client, user)}


def test_verify_checks_the_signature_fetches_and_captures_then_credits_once(live, http, client, razorpay):
    user, response = start_recharge(client, http)
    recharge_id = response.json()["id"]
    razorpay.pay("pay_P1")
    body = {"rechargeId": recharge_id, "razorpayOrderId": "order_N1", "razorpayPaymentId": "pay_P1",
            "razorpaySignature": checkout_signature("order_N1", "pay_P1")}

    verified = client.post("/v1/wallet/recharge/verify", body, format="json")
    again = client.post("/v1/wallet/recharge/verify", body, format="json")

    assert (verified.status_code, verified.json()["status"], verified.json()["wallet"]["balance"]) == (200, "succeeded", 500)
    assert (again.status_code, again.json()["status"]) == (200, "succeeded")
    capture = [c for c in http.calls if c.request.url.endswith("/capture")]
    assert len(capture) == 1 and sent_json(capture[0]) == {"amount": 50000, "currency": "INR"}
    assert len(http.calls) == 4  # order, fetch, the order's payments, capture: the second verify asked nothing
    assert wallet(client, user)["balance"] == 500
    assert system_account_balance(tenant="webuddy", code="gateway_clearing", currency="INR") == D(-500)
    assert Recharge.objects.get().capture_payment_id == "pay_P1"


@pytest.mark.parametrize("change", [
    {"razorpaySignature": checkout_signature("order_N1", "pay_P1", secret="wrong")},
    {"razorpaySignature": checkout_signature("order_N1", "pay_P2")},
    {"razorpayOrderId": "order_OTHER", "razorpaySignature": checkout_signature("order_OTHER", "pay_P1")},
    {"razorpaySignature": ""},
])
def test_verify_with_a_signature_that_does_not_match_the_stored_order_is_400(live, http, client, change):
    user, response = start_recharge(client, http)
    body = {"rechargeId": response.json()["id"], "razorpayOrderId": "order_N1", "razorpayPaymentId": "pay_P1",
            "razorpaySignature": checkout_signature("order_N1", "pay_P1"), **change}

    refused = client.post("/v1/wallet/recharge/verify", body, format="json")

    assert refused.status_code == 400 and refused.json()["code"] in ("invalid_signature", "validation_error")
    assert len(http.calls) == 1  # nothing fetched
    assert Recharge.objects.get().status == "pending" and wallet(client, user)["balance"] == 0


@pytest.mark.parametrize(("paid", "status", "code"), [
    ({"amount": 40000}, 400, "payment_mismatch"),
    ({"currency": "USD"}, 400, "payment_mismatch"),
    ({"order_id": "order_OTHER"}, 400, "payment_mismatch"),
    ({"status": "failed"}, 409, "payment_not_captured"),
    ({"status": "created"}, 409, "payment_not_captured"),
])
def test_verify_of_a_payment_that_is_not_ours_or_not_captured_changes_nothing(live, http, client, razorpay, paid,
                                                                               status, code):
    user, response = start_recharge(client, http)
    razorpay.pay("pay_P1", **paid)
    body = {"rechargeId": response.json()["id"], "razorpayOrderId": "order_N1", "razorpayPaymentId": "pay_P1",
            "razorpaySignature": checkout_signature("order_N1", "pay_P1")}

    refused = client.post("/v1/wallet/recharge/verify", body, format="json")

    assert (refused.status_code, refused.json()["code"]) == (status, code)
    assert Recharge.objects.get().status == "pending" and wallet(client, user)["balance"] == 0
    assert razorpay.captures == []


def test_verify_of_another_tenants_or_an_unknown_recharge_is_404(live, http, client):
    refused = client.post("/v1/wallet/recharge/verify", {"rechargeId": "00000000-0000-0000-0000-000000000000",
                          "razorpayOrderId": "o", "razorpayPaymentId": "p", "razorpaySignature": "s"}, format="json")
    assert (refused.status_code, refused.json()["code"]) == (404, "recharge_not_found")


def test_the_webhook_credits_once_and_replays_change_nothing(live, http, client):
    user, response = start_recharge(client, http)

    first = razorpay_webhook(client, captured_event(), event_id="evt_1")
    replay = razorpay_webhook(client, captured_event(), event_id="evt_1")
    order_paid = razorpay_webhook(client, {"event": "order.paid", "payload": {
        "order": {"entity": {"id": "order_N1", "status": "paid"}}, "payment": {"entity": payment()}}}, event_id="evt_2")

    assert [r.json()["status"] for r in (first, replay, order_paid)] == ["applied", "replayed", "ignored"]
    assert wallet(client, user)["balance"] == 500
    recharge = Recharge.objects.get()
    assert (recharge.status, recharge.provider_payment_id) == ("succeeded", "pay_P1")
    assert GatewayEvent.objects.filter(provider="razorpay").count() == 2
    # A verify after the webhook credited answers 200 with the recharge and asks nothing more.
    verified = client.post("/v1/wallet/recharge/verify", {"rechargeId": str(recharge.id), "razorpayOrderId": "order_N1",
                           "razorpayPaymentId": "pay_P1", "razorpaySignature": checkout_signature("order_N1", "pay_P1")},
                           format="json")
    assert (verified.status_code, verified.json()["status"], len(http.calls)) == (200, "succeeded", 1)


@pytest.mark.parametrize("how", ["wrong secret", "tampered body", "no signature", "garbage signature"])
def test_a_webhook_with_a_bad_or_missing_signature_is_400_and_changes_nothing(live, http, client, how):
    import json

    user, _ = start_recharge(client, http)
    raw = json.dumps(captured_event()).encode()
    good = hmac.new(KEYS["RAZORPAY_WEBHOOK_SECRET"].encode(), raw, hashlib.sha256).hexdigest()
    kwargs = {
        "wrong secret": {"secret": "not-the-secret"},
        "tampered body": {"body": raw.replace(b"50000", b"90000"), "signature": good},
        "no signature": {"signature": ""},
        "garbage signature": {"signature": "abc"},
    }[how]

    response = razorpay_webhook(client, captured_event(), **kwargs)

    assert (response.status_code, response.json()["code"]) == (400, "invalid_signature")
    assert wallet(client, user)["balance"] == 0 and GatewayEvent.objects.count() == 0


def test_a_failed_payment_fails_the_recharge_and_money_arriving_later_is_still_credited(live, http, client):
    user, _ = start_recharge(client, http)
    failed = {"event": "payment.failed", "payload": {"payment": {"entity": {
        **payment(status="failed"), "error_description": "Card declined"}}}}

    assert razorpay_webhook(client, failed).json()["status"] == "applied"
    recharge = Recharge.objects.get()
    assert (recharge.status, recharge.failure_reason) == ("failed", "Card declined")

    assert razorpay_webhook(client, captured_event(payment_id="pay_P2")).json()["status"] == "applied"
    recharge.refresh_from_db()
    assert (recharge.status, wallet(client, user)["balance"]) == ("succeeded", 500)


def test_money_of_another_amount_is_not_credited_and_is_recorded_for_finance(live, http, client):
    user, _ = start_recharge(client, http)

    response = razorpay_webhook(client, captured_event(amount=49999))

    assert (response.status_code, response.json()["status"]) == (200, "mismatch")
    assert wallet(client, user)["balance"] == 0
    event = GatewayEvent.objects.get()
    assert (event.outcome, event.object_type) == ("mismatch", "recharge") and "499.99" in event.detail


def test_an_event_for_nothing_of_ours_is_recorded_not_an_error(live, client):
    response = razorpay_webhook(client, captured_event(order_id="order_SOMEONE_ELSE"))
    other_type = razorpay_webhook(client, {"event": "refund.created", "payload": {}})

    assert [(r.status_code, r.json()["status"]) for r in (response, other_type)] == [(200, "unknown"), (200, "unknown")]
    assert set(GatewayEvent.objects.values_list("outcome", flat=True)) == {"unknown"}


@pytest.mark.parametrize("failure", ["500", "timeout"])
def test_an_order_that_fails_to_be_made_is_502_and_a_retry_with_the_key_tries_again(live, http, client, failure):
    user = create_user(client)
    if failure == "500":
        http.post(f"{RAZORPAY}/v1/orders", json={"error": {"code": "SERVER_ERROR", "description": "boom"}}, status=500)
    else:
        http.post(f"{RAZORPAY}/v1/orders", body=requests.exceptions.ReadTimeout("slow"))
    body = {"userId": user["id"], "amount": 500, "paymentMethod": "RAZORPAY"}

    first = client.post("/v1/wallet/recharge", body, format="json", HTTP_IDEMPOTENCY_KEY="rk-1")

    assert (first.status_code, first.json()["code"]) == (502, "gateway_unavailable")
    assert (Recharge.objects.get().status, Recharge.objects.get().provider_order_id) == ("pending", None)
    http.replace("POST", f"{RAZORPAY}/v1/orders", json={"id": "order_N2", "status": "created"})
    retried = client.post("/v1/wallet/recharge", body, format="json", HTTP_IDEMPOTENCY_KEY="rk-1")

    assert (retried.status_code, retried.json()["providerOrderId"]) == (201, "order_N2")
    assert Recharge.objects.count() == 1 and wallet(client, user)["balance"] == 0
    receipts = {sent_json(c)["receipt"] for c in http.calls}
    assert receipts == {retried.json()["id"]}


def test_sync_credits_a_paid_order_and_fails_one_never_made(live, http, client):
    from datetime import timedelta

    from django.utils import timezone

    user, response = start_recharge(client, http)
    lost = Recharge.objects.create(user_id=user["id"], account=Account.objects.get(user_id=user["id"]), amount=D(10),
                                   currency="INR", payment_method="RAZORPAY")
    Recharge.objects.update(created_at=timezone.now() - timedelta(hours=1))
    http.get(f"{RAZORPAY}/v1/orders/order_N1/payments", json={"items": [payment(status="authorized")]})
    http.post(f"{RAZORPAY}/v1/payments/pay_P1/capture", json=payment(status="captured"))
    http.get(f"{RAZORPAY}/v1/orders", json={"entity": "collection", "count": 0, "items": []})  # no order for `lost`

    call_command("sync_gateway_status", "--older-than", "15m")

    assert Recharge.objects.get(pk=response.json()["id"]).status == "succeeded"
    lost.refresh_from_db()
    assert lost.status == "failed"
    assert wallet(client, user)["balance"] == 500


# Payouts through RazorpayX


def expert_with_bank(client, balance=1000, **bank):
    """An expert with earnings (credited as a session would) and a bank account."""
    from wallets.services.postings import wallet_deposit

    expert = funded_user(client, 0)
    wallet_deposit(wallet=Account.objects.get(user_id=expert["id"]), amount=D(balance))
    return expert, add_bank(client, expert["id"], **bank).json()


def razorpayx_mocks(http, *, payout_status="processing", payout_id="pout_1"):
    http.post(f"{RAZORPAY}/v1/contacts", json={"id": "cont_1", "entity": "contact"}, status=201)
    http.post(f"{RAZORPAY}/v1/fund_accounts", json={"id": "fa_1", "entity": "fund_account"}, status=201)
    http.post(f"{RAZORPAY}/v1/payouts", json={"id": payout_id, "entity": "payout", "status": payout_status}, status=200)


def manual_payout(client, expert, bank, amount=400, method="RAZORPAY", key=None):
    headers = {"HTTP_IDEMPOTENCY_KEY": key} if key else {}
    return client.post("/v1/payouts/manual", {"expertId": expert["id"], "amount": amount, "bankAccount": bank["id"],
                                              "paymentMethod": method}, format="json", **headers)


def test_a_payout_makes_a_contact_and_fund_account_once_and_an_idempotent_payout(live, http, client):
    expert, bank = expert_with_bank(client, 5000)
    razorpayx_mocks(http)

    first = manual_payout(client, expert, bank, amount=400)

    body = first.json()
    assert first.status_code == 201 and (body["status"], body["providerPayoutId"]) == ("processing", "pout_1")
    contact, fund_account, created = http.calls
    assert contact.request.headers["Authorization"] == AUTH
    assert sent_json(contact) == {"name": "Ravi Kumar", "type": "vendor", "reference_id": expert["id"]}
    assert sent_json(fund_account) == {"contact_id": "cont_1", "account_type": "bank_account", "bank_account": {
        "name": "Ravi Kumar", "ifsc": "HDFC0001234", "account_number": "123456789012"}}
    assert created.request.headers["X-Payout-Idempotency"] == body["id"]
    assert sent_json(created) == {
        "account_number": KEYS["RAZORPAYX_ACCOUNT_NUMBER"], "fund_account_id": "fa_1", "amount": 40000, "currency": "INR",
        "mode": "IMPS", "purpose": "payout", "queue_if_low_balance": True, "reference_id": body["id"],
        "narration": "Expert payout",
    }
    detail = BankDetail.objects.get(pk=bank["id"])
    assert (detail.razorpay_contact_id, detail.razorpay_fund_account_id) == ("cont_1", "fa_1")
    assert wallet(client, expert)["heldBalance"] == 400

    http.replace("POST", f"{RAZORPAY}/v1/payouts", json={"id": "pout_2", "status": "processing"})
    second = manual_payout(client, expert, bank, amount=4000)
    assert second.status_code == 201
    assert [c.request.url.rsplit("/", 1)[-1] for c in http.calls[3:]] == ["payouts"]  # no second contact or fund account


@pytest.mark.parametrize(("amount", "mode"), [(D("500000"), "IMPS"), (D("500000.01"), "NEFT")])
def test_imps_up_to_and_including_the_limit_neft_above(live, http, client, amount, mode):
    expert, bank = expert_with_bank(client, 600000)
    razorpayx_mocks(http)
    assert manual_payout(client, expert, bank, amount=amount).status_code == 201
    assert sent_json(http.calls[-1])["mode"] == mode


def payout_event(event, payout_id, reference_id, amount=40000, **extra):
    return {"event": event, "payload": {"payout": {"entity": {
        "id": payout_id, "entity": "payout", "amount": amount, "reference_id": reference_id,
        "status": event.split(".")[1], **extra}}}}


def test_payout_events_pay_fail_and_reverse_and_never_move_back(live, http, client):
    expert, bank = expert_with_bank(client, 1000)
    razorpayx_mocks(http)
    payout = manual_payout(client, expert, bank, amount=400).json()

    processed = razorpay_webhook(client, payout_event("payout.processed", "pout_1", payout["id"]), event_id="e1")
    late_failure = razorpay_webhook(client, payout_event("payout.failed", "pout_1", payout["id"]), event_id="e2")
    replay = razorpay_webhook(client, payout_event("payout.processed", "pout_1", payout["id"]), event_id="e1")

    assert [r.json()["status"] for r in (processed, late_failure, replay)] == ["applied", "ignored", "replayed"]
    assert client.get(f"/v1/payouts/{payout['id']}").json()["status"] == "paid"
    assert wallet(client, expert) == {"balance": 600, "heldBalance": 0, "availableBalance": 600, "currency": "INR",
                                      "status": "active"}
    assert system_account_balance(tenant="webuddy", code="payout_clearing", currency="INR") == D(400)

    reversed_ = razorpay_webhook(client, payout_event("payout.reversed", "pout_1", payout["id"]), event_id="e3")

    assert reversed_.json()["status"] == "applied"
    assert client.get(f"/v1/payouts/{payout['id']}").json()["status"] == "reversed"
    assert wallet(client, expert)["balance"] == 1000
    assert system_account_balance(tenant="webuddy", code="payout_clearing", currency="INR") == 0


@pytest.mark.parametrize("event", ["payout.failed", "payout.rejected"])
def test_a_failed_payout_releases_its_hold_and_a_late_processed_is_a_conflict_for_finance(live, http, client, event):
    expert, bank = expert_with_bank(client, 1000)
    razorpayx_mocks(http)
    payout = manual_payout(client, expert, bank, amount=400).json()

    failed = razorpay_webhook(client, payout_event(event, "pout_1", payout["id"],
                                                   status_details={"description": "Beneficiary bank offline"}))
    late = razorpay_webhook(client, payout_event("payout.processed", "pout_1", payout["id"]))

    assert [failed.json()["status"], late.json()["status"]] == ["applied", "conflict"]
    body = client.get(f"/v1/payouts/{payout['id']}").json()
    assert (body["status"], body["failureReason"]) == ("failed", "Beneficiary bank offline")
    assert wallet(client, expert)["balance"] == 1000 and wallet(client, expert)["heldBalance"] == 0


@pytest.mark.parametrize("failure", ["500", "timeout"])
def test_a_payout_whose_create_fails_stays_processing_and_sync_asks_again_with_the_same_key(live, http, client, failure):
    from datetime import timedelta

    from django.utils import timezone

    expert, bank = expert_with_bank(client, 1000)
    http.post(f"{RAZORPAY}/v1/contacts", json={"id": "cont_1"}, status=201)
    http.post(f"{RAZORPAY}/v1/fund_accounts", json={"id": "fa_1"}, status=201)
    if failure == "500":
        http.post(f"{RAZORPAY}/v1/payouts", json={"error": {"description": "down"}}, status=503)
    else:
        http.post(f"{RAZORPAY}/v1/payouts", body=requests.exceptions.ConnectTimeout("no route"))

    response = manual_payout(client, expert, bank, amount=400)

    body = response.json()
    assert response.status_code == 201 and (body["status"], body["providerPayoutId"]) == ("processing", None)
    assert wallet(client, expert)["heldBalance"] == 400
    Payout.objects.update(created_at=timezone.now() - timedelta(hours=1))
    http.get(f"{RAZORPAY}/v1/payouts", json={"entity": "collection", "items": []})  # not made the first time
    http.replace("POST", f"{RAZORPAY}/v1/payouts", json={"id": "pout_9", "status": "processed"})

    call_command("sync_gateway_status", "--older-than", "15m")

    assert client.get(f"/v1/payouts/{body['id']}").json()["status"] == "paid"
    attempts = [c for c in http.calls if c.request.url.endswith("/v1/payouts") and c.request.method == "POST"]
    assert {c.request.headers["X-Payout-Idempotency"] for c in attempts} == {body["id"]}
    (lookup,) = [c for c in http.calls if c.request.method == "GET"]
    assert lookup.request.url == f"{RAZORPAY}/v1/payouts?account_number={KEYS['RAZORPAYX_ACCOUNT_NUMBER']}&reference_id={body['id']}"
    assert wallet(client, expert)["balance"] == 600 and wallet(client, expert)["heldBalance"] == 0


def test_sync_reads_back_a_processing_payout(live, http, client):
    from datetime import timedelta

    from django.utils import timezone

    expert, bank = expert_with_bank(client, 1000)
    razorpayx_mocks(http)
    payout = manual_payout(client, expert, bank, amount=400).json()
    Payout.objects.update(created_at=timezone.now() - timedelta(hours=1))
    http.get(f"{RAZORPAY}/v1/payouts/pout_1", json={"id": "pout_1", "status": "processed"})

    call_command("sync_gateway_status")

    assert client.get(f"/v1/payouts/{payout['id']}").json()["status"] == "paid"


def test_live_mode_refuses_to_start_without_any_of_its_keys(live):
    from django.core.management.base import SystemCheckError

    for name in KEYS:
        setattr(live, name, "")
        with pytest.raises(SystemCheckError, match=name):
            call_command("check")
        setattr(live, name, KEYS[name])
    call_command("check")
