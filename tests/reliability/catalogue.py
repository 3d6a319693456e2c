"""The endpoints the bad-input corpus (test_bad_input.py) is sent to: what exists for their bodies
to be about, and each endpoint's valid base body with what kind of value each field holds."""
import itertools
import re
import time
import uuid
from dataclasses import dataclass
from decimal import Decimal
from urllib.parse import quote

from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import RefreshToken

from experts.services import bank_detail_add
from sessions_app.services import session_start
from tests.factories import make_api_key, tenant
from wallets.models import Account
from wallets.recovery import NO_RECOVERY
from wallets.services import postings, recharges, users
from wallets.services.escrow import escrow_freeze


PASSWORD = "correct-horse-battery-9"
RAZORPAY_SECRET = "rzp_webhook_secret_for_tests"
STRIPE_SECRET = "whsec_for_tests"
_serial = itertools.count(1)


# What exists, for the base bodies to be about


class World:
    def __init__(self):
        self.webuddy_key = make_api_key("webuddy")[1]
        self.tmr_key = make_api_key("tmr")[1]
        self.customer = self.webuddy_user(funds=10_000)
        self.expert = self.webuddy_user(funds=5_000)
        self.bank = bank_detail_add(expert=self.expert, bank_name="HDFC Bank", account_number="123456789012",
                                    ifsc_code="HDFC0001234", account_holder_name="Ravi Kumar")
        self.session = session_start(tenant=tenant("webuddy"), user_id=self.customer.pk, expert_id=self.expert.pk,
                                     session_fee=Decimal(100))
        self.recharge, _ = recharges.recharge_create(tenant=tenant("webuddy"), user_id=self.customer.pk, amount=Decimal(50),
                                                     payment_method="RAZORPAY", recovery=NO_RECOVERY)
        self.buyer = users.user_register(tenant=tenant("tmr"), username=f"buyer{next(_serial)}", password=PASSWORD)
        postings.wallet_deposit(wallet=Account.objects.get(user=self.buyer, currency="USD"), amount=Decimal(1_000))
        self.payee = users.user_register(tenant=tenant("tmr"), username=f"payee{next(_serial)}", password=PASSWORD)
        self.order_id = f"order-{uuid.uuid4()}"
        escrow_freeze(tenant=tenant("tmr"), user_id=self.buyer.pk, order_id=self.order_id, amount=Decimal(150),
                      currency="USD")
        self.refresh = RefreshToken.for_user(self.buyer)

    @staticmethod
    def webuddy_user(*, funds):
        user = users.user_create(tenant=tenant("webuddy"), phone_number=f"+9195{next(_serial):08d}")
        postings.wallet_deposit(wallet=Account.objects.get(user=user), amount=Decimal(funds))
        return user

    def client(self, auth: str | None) -> APIClient:
        client = APIClient(raise_request_exception=False)  # a 500 is an answer to report, like any other
        credential = {
            "webuddy": f"Api-Key {self.webuddy_key}", "tmr": f"Api-Key {self.tmr_key}",
            "jwt": f"Bearer {self.refresh.access_token}", None: None,
        }[auth]
        if credential:
            client.credentials(HTTP_AUTHORIZATION=credential)
        return client


# The endpoints, each with a valid body and what kind of value each field holds

ID, AMOUNT, FORMAT, TEXT, FLAG, JSON_VALUE = "id", "amount", "format", "text", "flag", "json"


@dataclass
class Endpoint:
    method: str
    route: str  # as the URL map writes it
    auth: str | None
    body: object  # World -> dict
    kinds: dict  # field -> ID | AMOUNT | FORMAT | TEXT | FLAG | JSON_VALUE
    path: object = None  # World -> {path parameter: value}
    webhook: str | None = None  # the provider whose signature the body carries
    optional: tuple = ()  # fields a valid body may leave out

    @property
    def label(self) -> str:
        return f"{self.method} {self.route}"

    @property
    def validation_status(self) -> int:
        return 422 if self.route.startswith("/api/v1/") else 400

    def url(self, world, path_values: dict | None = None) -> str:
        values = {**(self.path(world) if self.path else {}), **(path_values or {})}
        return re.sub(r"<(?:\w+:)?(\w+)>", lambda m: quote(str(values[m.group(1)]), safe=""), self.route)


def fresh(prefix: str) -> str:
    return f"{prefix}{next(_serial)}"


def razorpay_event(world) -> dict:
    return {"entity": "event", "event": "payment.captured", "account_id": "acc_test", "created_at": int(time.time()),
            "payload": {"payment": {"entity": {"id": fresh("pay_"), "order_id": fresh("order_"), "amount": 5000,
                                               "currency": "INR", "status": "captured"}}}}


def stripe_event(world) -> dict:
    return {"id": fresh("evt_"), "object": "event", "type": "payment_intent.succeeded", "created": int(time.time()),
            "data": {"object": {"id": fresh("pi_"), "object": "payment_intent", "amount": 5000, "currency": "inr",
                                "status": "succeeded"}}}


ENDPOINTS = [
    Endpoint("POST", "/v1/users", "webuddy",
             lambda w: {"phoneNumber": f"+9194{next(_serial):08d}", "name": "Asha", "max_credits": 100,
                        "settings": {"lang": "en"}},
             {"phoneNumber": FORMAT, "name": TEXT, "max_credits": AMOUNT, "settings": JSON_VALUE},
             optional=("name", "max_credits", "settings")),
    Endpoint("PATCH", "/v1/users/<str:user_id>", "webuddy",
             lambda w: {"phoneNumber": f"+9193{next(_serial):08d}", "name": "Asha R", "max_credits": 50, "settings": {}},
             {"phoneNumber": FORMAT, "name": TEXT, "max_credits": AMOUNT, "settings": JSON_VALUE},
             path=lambda w: {"user_id": w.customer.pk}),
    Endpoint("POST", "/v1/wallet/recharge", "webuddy",
             lambda w: {"userId": str(w.customer.pk), "amount": 500, "paymentMethod": "RAZORPAY"},
             {"userId": ID, "amount": AMOUNT, "paymentMethod": FORMAT}),
    Endpoint("POST", "/v1/wallet/recharge/verify", "webuddy",
             lambda w: {"rechargeId": str(w.recharge.pk), "razorpayOrderId": "order_1", "razorpayPaymentId": "pay_1",
                        "razorpaySignature": "0" * 64},
             {"rechargeId": ID, "razorpayOrderId": TEXT, "razorpayPaymentId": TEXT, "razorpaySignature": TEXT}),
    Endpoint("POST", "/v1/wallet/monitors", "webuddy",
             lambda w: {"userId": str(w.customer.pk), "below": 100},
             {"userId": ID, "below": AMOUNT}),
    Endpoint("POST", "/v1/sessions/start", "webuddy",
             lambda w: {"userId": str(w.customer.pk), "expertId": str(w.expert.pk), "sessionFee": 100},
             {"userId": ID, "expertId": ID, "sessionFee": AMOUNT}),
    Endpoint("POST", "/v1/sessions/adjust", "webuddy",
             lambda w: {"sessionId": str(w.session.pk), "adjustedFee": 120, "deferFee": False},
             {"sessionId": ID, "adjustedFee": AMOUNT, "deferFee": FLAG}, optional=("deferFee",)),
    Endpoint("POST", "/v1/sessions/end", "webuddy",
             lambda w: {"sessionId": str(w.session.pk), "expertId": str(w.expert.pk), "actualFee": 150},
             {"sessionId": ID, "expertId": ID, "actualFee": AMOUNT}),
    Endpoint("POST", "/v1/payouts/manual", "webuddy",
             lambda w: {"expertId": str(w.expert.pk), "amount": 1000, "bankAccount": str(w.bank.pk),
                        "paymentMethod": "RAZORPAY"},
             {"expertId": ID, "amount": AMOUNT, "bankAccount": ID, "paymentMethod": FORMAT}),
    Endpoint("POST", "/v1/payouts/monthly", "webuddy",
             lambda w: {"expertId": str(w.expert.pk), "month": "2025-06", "payoutThreshold": 5000},
             {"expertId": ID, "month": FORMAT, "payoutThreshold": AMOUNT}, optional=("payoutThreshold",)),
    Endpoint("POST", "/v1/experts/bank-details", "webuddy",
             lambda w: {"expertId": str(w.expert.pk), "bankName": "HDFC Bank", "accountNumber": f"5{next(_serial):011d}",
                        "ifscCode": "HDFC0001234", "accountHolderName": "Ravi Kumar", "branchName": "Andheri"},
             {"expertId": ID, "bankName": TEXT, "accountNumber": FORMAT, "ifscCode": FORMAT, "accountHolderName": TEXT,
              "branchName": TEXT}, optional=("branchName",)),
    Endpoint("POST", "/v1/webhook-endpoints", "webuddy",
             lambda w: {"url": "https://hooks.example.com/wallet", "events": []},
             {"url": FORMAT, "events": JSON_VALUE}, optional=("events",)),
    # The fields of an event that are read; a provider's event type is its own text.
    Endpoint("POST", "/v1/webhooks/razorpay", None, razorpay_event,
             {"event": TEXT, "payload": JSON_VALUE}, webhook="razorpay"),
    Endpoint("POST", "/v1/webhooks/stripe", None, stripe_event,
             {"id": TEXT, "type": TEXT, "data": JSON_VALUE}, webhook="stripe"),
    Endpoint("POST", "/api/v1/auth/register", None,
             lambda w: {"username": fresh("newcomer"), "password": PASSWORD},
             {"username": TEXT, "password": TEXT}),
    Endpoint("POST", "/api/v1/auth/token", None,
             lambda w: {"username": w.buyer.username, "password": PASSWORD},
             {"username": TEXT, "password": TEXT}),
    Endpoint("POST", "/api/v1/auth/token/refresh", None,
             lambda w: {"refresh": str(w.refresh)},
             {"refresh": FORMAT}),
    Endpoint("POST", "/api/v1/wallet/charge", "jwt",
             lambda w: {"amount": 10, "currency": "USD"},
             {"amount": AMOUNT, "currency": FORMAT}, optional=("currency",)),
    Endpoint("POST", "/api/v1/wallet/withdraw", "jwt",
             lambda w: {"amount": 5, "currency": "USD"},
             {"amount": AMOUNT, "currency": FORMAT}, optional=("currency",)),
    Endpoint("POST", "/api/v1/wallet/kyc", "jwt",
             lambda w: {"full_name": "Zhang Ming", "id_type": "national_id", "id_number": "310101199001011234"},
             {"full_name": TEXT, "id_type": FORMAT, "id_number": FORMAT}),
    Endpoint("POST", "/api/v1/wallet/escrow/freeze", "tmr",
             lambda w: {"user_id": str(w.buyer.pk), "order_id": fresh("order-"), "amount": 10, "currency": "USD"},
             {"user_id": ID, "order_id": TEXT, "amount": AMOUNT, "currency": FORMAT}, optional=("currency",)),
    Endpoint("POST", "/api/v1/wallet/escrow/release", "tmr",
             lambda w: {"order_id": w.order_id, "payee_id": str(w.payee.pk)},
             {"order_id": ID, "payee_id": ID}),
    Endpoint("POST", "/api/v1/wallet/escrow/cancel", "tmr",
             lambda w: {"order_id": w.order_id},
             {"order_id": ID}),
    Endpoint("POST", "/api/v1/wallet/webhook-endpoints", "tmr",
             lambda w: {"url": "https://hooks.example.com/tmr", "events": []},
             {"url": FORMAT, "events": JSON_VALUE}, optional=("events",)),
]
BY_LABEL = {endpoint.label: endpoint for endpoint in ENDPOINTS}
