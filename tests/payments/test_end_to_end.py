"""One recharge and one payout per provider, end to end over real HTTP: the service (a live server,
PAYMENTS_MODE=live) against the local test double of Razorpay, RazorpayX and Stripe
(bench/gateway_double.py), which plays the payer and the bank and sends signed webhooks back."""
import pytest
import requests
from django.core.management import call_command

from bench.gateway_double import DEFAULTS, Double, serve
from tests.factories import make_api_key
from tests.invariants import assert_ledger_invariants

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def world(live_server, settings):
    double = Double(service=live_server.url)
    server = serve(double)
    base = f"http://127.0.0.1:{server.server_port}"
    settings.PAYMENTS_MODE = "live"
    settings.RAZORPAY_API_BASE = settings.STRIPE_API_BASE = base
    settings.RAZORPAY_KEY_ID, settings.RAZORPAY_KEY_SECRET = DEFAULTS["razorpay_key_id"], DEFAULTS["razorpay_key_secret"]
    settings.RAZORPAY_WEBHOOK_SECRET = DEFAULTS["razorpay_webhook_secret"]
    settings.RAZORPAYX_ACCOUNT_NUMBER = "7878780080316316"
    settings.STRIPE_SECRET_KEY, settings.STRIPE_WEBHOOK_SECRET = DEFAULTS["stripe_secret_key"], DEFAULTS["stripe_webhook_secret"]
    _, raw = make_api_key("webuddy")
    session = requests.Session()
    session.headers["Authorization"] = f"Api-Key {raw}"
    yield live_server.url, base, session, double
    server.shutdown()


def user(api, session, phone):
    response = session.post(f"{api}/v1/users", json={"phoneNumber": phone, "name": "E2E"})
    assert response.status_code == 201, response.text
    return response.json()


def balance(api, session, user_id):
    return session.get(f"{api}/v1/users/{user_id}").json()["wallet"]


def test_recharges_and_payouts_through_both_providers(world):
    api, double_url, session, double = world
    payer = user(api, session, "+919811100001")

    # Razorpay: order -> Checkout pays -> webhook credits; the checkout handler's verify agrees.
    recharge = session.post(f"{api}/v1/wallet/recharge", json={"userId": payer["id"], "amount": 500, "paymentMethod": "RAZORPAY"}).json()
    assert recharge["status"] == "pending" and recharge["checkout"]["amount"] == 50000
    paid = requests.post(f"{double_url}/_double/razorpay/pay", json={"order_id": recharge["checkout"]["orderId"]}).json()
    assert paid["webhook_status"] == 200
    verified = session.post(f"{api}/v1/wallet/recharge/verify", json={
        "rechargeId": recharge["id"], "razorpayOrderId": recharge["checkout"]["orderId"],
        "razorpayPaymentId": paid["payment_id"], "razorpaySignature": paid["signature"]})
    assert (verified.status_code, verified.json()["status"]) == (200, "succeeded")

    # Stripe: PaymentIntent -> paid -> webhook credits.
    intent = session.post(f"{api}/v1/wallet/recharge", json={"userId": payer["id"], "amount": 250, "paymentMethod": "STRIPE"}).json()
    requests.post(f"{double_url}/_double/stripe/pay", json={"payment_intent": intent["checkout"]["paymentIntentId"]})
    assert session.get(f"{api}/v1/wallet/recharge/{intent['id']}").json()["status"] == "succeeded"
    assert balance(api, session, payer["id"])["balance"] == 750

    # Payouts: an expert paid by RazorpayX (processing, then the bank processes it) and by a Stripe transfer.
    expert = user(api, session, "+919811100002")
    session.post(f"{api}/v1/wallet/recharge", json={"userId": expert["id"], "amount": 1000, "paymentMethod": "RAZORPAY"})
    order = double.orders[max(double.orders)]
    requests.post(f"{double_url}/_double/razorpay/pay", json={"order_id": order["id"]})
    bank = session.post(f"{api}/v1/experts/bank-details", json={
        "expertId": expert["id"], "bankName": "HDFC Bank", "accountNumber": "123456789012", "ifscCode": "HDFC0001234",
        "accountHolderName": "Dr. Rao", "stripeAccountId": "acct_1E2E"}).json()
    rzp = session.post(f"{api}/v1/payouts/manual", json={"expertId": expert["id"], "amount": 300, "bankAccount": bank["id"],
                                                          "paymentMethod": "RAZORPAY"}).json()
    assert rzp["status"] == "processing"
    requests.post(f"{double_url}/_double/razorpay/payout", json={"payout_id": rzp["providerPayoutId"], "status": "processed"})
    assert session.get(f"{api}/v1/payouts/{rzp['id']}").json()["status"] == "paid"
    stp = session.post(f"{api}/v1/payouts/manual", json={"expertId": expert["id"], "amount": 200, "bankAccount": bank["id"],
                                                          "paymentMethod": "STRIPE"}).json()
    assert stp["status"] == "paid"
    assert balance(api, session, expert["id"]) == {"balance": 500, "heldBalance": 0, "availableBalance": 500,
                                                   "currency": "INR", "status": "active"}
    call_command("reconcile")
    assert_ledger_invariants()
