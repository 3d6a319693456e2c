"""Live mode for the gateway tests: the six keys set, outgoing HTTP mocked at the transport with
`responses` (nothing leaves the machine), and webhooks signed here with the providers' own schemes."""
import hashlib
import hmac
import itertools
import json
import re
import threading
import time
import uuid

import pytest
import responses as responses_lib
from rest_framework.test import APIClient

from tests.factories import make_api_key
from tests.invariants import assert_ledger_invariants

RAZORPAY = "https://api.razorpay.com"
STRIPE = "https://api.stripe.com"
KEYS = {
    "RAZORPAY_KEY_ID": "rzp_test_key",
    "RAZORPAY_KEY_SECRET": "rzp_test_secret",
    "RAZORPAY_WEBHOOK_SECRET": "rzp_webhook_secret",
    "RAZORPAYX_ACCOUNT_NUMBER": "7878780080316316",
    "STRIPE_SECRET_KEY": "sk_test_123",
    "STRIPE_WEBHOOK_SECRET": "whsec_test_123",
}


@pytest.fixture
def live(settings):
    settings.PAYMENTS_MODE = "live"
    for name, value in KEYS.items():
        setattr(settings, name, value)
    settings.RAZORPAY_API_BASE, settings.STRIPE_API_BASE = RAZORPAY, STRIPE
    return settings


@pytest.fixture
def http():
    """Every outgoing request must be one the test expects; none reaches the network."""
    with responses_lib.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


@pytest.fixture
def client(db):
    _, raw = make_api_key("webuddy")
    api = APIClient(raise_request_exception=False)
    api.credentials(HTTP_AUTHORIZATION=f"Api-Key {raw}")
    return api


@pytest.fixture(autouse=True)
def _ledger_stays_whole(request):
    yield
    if "db" in request.fixturenames or "client" in request.fixturenames or "transactional_db" in request.fixturenames:
        assert_ledger_invariants()


def sent_json(call) -> dict:
    return json.loads(call.request.body)


def sent_form(call) -> dict:
    from urllib.parse import parse_qsl

    return dict(parse_qsl(call.request.body if isinstance(call.request.body, str) else call.request.body.decode()))


def razorpay_webhook(client: APIClient, event: dict, *, secret=KEYS["RAZORPAY_WEBHOOK_SECRET"], event_id=None, body=None,
                     signature=None):
    raw = body if body is not None else json.dumps(event).encode()
    headers = {"HTTP_X_RAZORPAY_EVENT_ID": event_id or f"evt_{uuid.uuid4().hex[:14]}"}
    sig = signature if signature is not None else hmac.new(secret.encode(), raw, hashlib.sha256).hexdigest()
    if sig:
        headers["HTTP_X_RAZORPAY_SIGNATURE"] = sig
    return APIClient().post("/v1/webhooks/razorpay", data=raw, content_type="application/json", **headers)


def stripe_signature(raw: bytes, *, secret=KEYS["STRIPE_WEBHOOK_SECRET"], at=None) -> str:
    t = int(at if at is not None else time.time())
    digest = hmac.new(secret.encode(), f"{t}.".encode() + raw, hashlib.sha256).hexdigest()
    return f"t={t},v1={digest}"


def stripe_webhook(event: dict, *, secret=KEYS["STRIPE_WEBHOOK_SECRET"], at=None, body=None, signature=None):
    raw = body if body is not None else json.dumps(event).encode()
    sig = signature if signature is not None else stripe_signature(raw, secret=secret, at=at)
    headers = {"HTTP_STRIPE_SIGNATURE": sig} if sig else {}
    return APIClient().post("/v1/webhooks/stripe", data=raw, content_type="application/json", **headers)


def stripe_event(event_type: str, obj: dict, event_id=None) -> dict:
    return {"id": event_id or f"evt_{uuid.uuid4().hex[:14]}", "object": "event", "type": event_type,
            "data": {"object": obj}, "created": int(time.time())}


class RazorpayPayments:
    """Razorpay's payments of our orders as its API answers for them, registered on `http`: a payment
    fetched, the order's payments listed (newest first, as Razorpay lists them), a capture that
    captures (400 once captured). Inside a capture call `before_capture(payment_id)` runs before the
    payment is captured and `after_capture(payment_id)` after it, before the answer leaves: a test
    holds the call at either point, or raises in `after_capture` to lose the answer."""

    def __init__(self, http):
        self.payments: dict[str, dict] = {}
        self.captures: list[str] = []
        self.before_capture = self.after_capture = lambda payment_id: None
        self.listed_as: dict[str, str] = {}  # a listing that lags: these payments listed with an older status
        self._lock = threading.Lock()
        self._clock = itertools.count(1_700_000_000)
        http.add_callback("GET", re.compile(rf"{RAZORPAY}/v1/payments/(\w+)$"), callback=self._fetch)
        http.add_callback("POST", re.compile(rf"{RAZORPAY}/v1/payments/(\w+)/capture$"), callback=self._capture)
        http.add_callback("GET", re.compile(rf"{RAZORPAY}/v1/orders/(\w+)/payments$"), callback=self._listed)

    def pay(self, payment_id, *, order_id="order_N1", amount=50000, currency="INR", status="authorized") -> dict:
        """The payer pays (authorized: waiting for our capture)."""
        with self._lock:
            self.payments[payment_id] = {"id": payment_id, "entity": "payment", "order_id": order_id, "amount": amount,
                                         "currency": currency, "status": status, "created_at": next(self._clock)}
        return dict(self.payments[payment_id])

    def status(self, payment_id) -> str:
        return self.payments[payment_id]["status"]

    @staticmethod
    def _id(request, index=-1):
        return request.url.split("?")[0].rstrip("/").split("/")[index]

    def _fetch(self, request):
        found = self.payments.get(self._id(request))
        if found is None:
            return 400, {}, json.dumps({"error": {"code": "BAD_REQUEST_ERROR", "description": "no such payment"}})
        return 200, {}, json.dumps(found)

    def _capture(self, request):
        payment_id = self._id(request, -2)
        self.before_capture(payment_id)
        with self._lock:
            found = self.payments.get(payment_id)
            if found is None or found["status"] != "authorized":
                return 400, {}, json.dumps({"error": {"code": "BAD_REQUEST_ERROR",
                                                      "description": "This payment has already been captured"}})
            found["status"] = "captured"
            self.captures.append(payment_id)
            answer = dict(found)
        self.after_capture(payment_id)
        return 200, {}, json.dumps(answer)

    def _listed(self, request):
        order_id = self._id(request, -2)
        mine = [{**p, "status": self.listed_as.get(p["id"], p["status"])}
                for p in list(self.payments.values()) if p["order_id"] == order_id]
        return 200, {}, json.dumps({"entity": "collection", "count": len(mine), "items": mine[::-1]})


@pytest.fixture
def razorpay(http):
    return RazorpayPayments(http)
