"""Live mode for the gateway tests: the six keys set, outgoing HTTP mocked at the transport with
`responses` (nothing leaves the machine), and webhooks signed here with the providers' own schemes."""
import hashlib
import hmac
import json
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
