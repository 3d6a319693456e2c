"""The WeBuddy dialect as a whole: authentication on every endpoint, idempotent retries, and an
OpenAPI schema that names every endpoint, field and error code exactly."""
from decimal import Decimal

import pytest
from rest_framework.test import APIClient

from tests.webuddy.helpers import create_user, funded_user, num, wallet_of

pytestmark = pytest.mark.django_db
D = Decimal
ID = "00000000-0000-0000-0000-000000000000"

# (method, path as documented, a concrete URL)
ENDPOINTS = [
    ("post", "/v1/users", "/v1/users"),
    ("get", "/v1/users/{user_id}", f"/v1/users/{ID}"),
    ("patch", "/v1/users/{user_id}", f"/v1/users/{ID}"),
    ("post", "/v1/wallet/recharge", "/v1/wallet/recharge"),
    ("post", "/v1/wallet/recharge/verify", "/v1/wallet/recharge/verify"),
    ("get", "/v1/wallet/recharge/{recharge_id}", f"/v1/wallet/recharge/{ID}"),
    ("get", "/v1/wallet/history", f"/v1/wallet/history?userId={ID}"),
    ("post", "/v1/sessions/start", "/v1/sessions/start"),
    ("post", "/v1/sessions/adjust", "/v1/sessions/adjust"),
    ("post", "/v1/sessions/end", "/v1/sessions/end"),
    ("get", "/v1/sessions/{session_id}", f"/v1/sessions/{ID}"),
    ("post", "/v1/payouts/manual", "/v1/payouts/manual"),
    ("post", "/v1/payouts/monthly", "/v1/payouts/monthly"),
    ("get", "/v1/payouts/{payout_id}", f"/v1/payouts/{ID}"),
    ("post", "/v1/experts/bank-details", "/v1/experts/bank-details"),
    ("get", "/v1/experts/{expert_id}/bank-details", f"/v1/experts/{ID}/bank-details"),
    ("post", "/v1/webhook-endpoints", "/v1/webhook-endpoints"),
    ("get", "/v1/webhook-endpoints", "/v1/webhook-endpoints"),
    ("delete", "/v1/webhook-endpoints/{endpoint_id}", f"/v1/webhook-endpoints/{ID}"),
    ("get", "/v1/events", "/v1/events"),
    ("post", "/v1/wallet/monitors", "/v1/wallet/monitors"),
    ("get", "/v1/wallet/monitors", "/v1/wallet/monitors"),
    ("delete", "/v1/wallet/monitors/{monitor_id}", f"/v1/wallet/monitors/{ID}"),
]


@pytest.mark.parametrize(("method", "url"), [(m, u) for m, _, u in ENDPOINTS])
def test_every_endpoint_needs_a_webuddy_key(method, url, tmr_key_client):
    anonymous = getattr(APIClient(), method)(url, {}, format="json")
    assert (anonymous.status_code, anonymous.json()["code"]) == (401, "not_authenticated")
    wrong_scope = getattr(tmr_key_client, method)(url, {}, format="json")
    assert (wrong_scope.status_code, wrong_scope.json()["code"]) == (403, "permission_denied")


def test_a_retried_recharge_credits_once(webuddy_client):
    user = create_user(webuddy_client)
    body = {"userId": user["id"], "amount": 250, "paymentMethod": "STRIPE"}

    first = webuddy_client.post("/v1/wallet/recharge", body, format="json", HTTP_IDEMPOTENCY_KEY="r-1")
    retry = webuddy_client.post("/v1/wallet/recharge", body, format="json", HTTP_IDEMPOTENCY_KEY="r-1")
    other = webuddy_client.post("/v1/wallet/recharge", {**body, "amount": 251}, format="json", HTTP_IDEMPOTENCY_KEY="r-1")

    assert (first.status_code, retry.status_code, retry["Idempotent-Replayed"]) == (201, 201, "true")
    assert retry.json() == first.json()
    assert (other.status_code, other.json()["code"]) == (422, "idempotency_key_reused")
    assert num(wallet_of(webuddy_client, user["id"])["balance"]) == D(250)


def test_a_retried_session_end_settles_once(webuddy_client):
    user, expert = funded_user(webuddy_client, 500), create_user(webuddy_client)
    session = webuddy_client.post("/v1/sessions/start", {"userId": user["id"], "expertId": expert["id"], "sessionFee": 100}, format="json").json()
    body = {"sessionId": session["id"], "expertId": expert["id"], "actualFee": 100}

    first = webuddy_client.post("/v1/sessions/end", body, format="json", HTTP_IDEMPOTENCY_KEY="end-1")
    retry = webuddy_client.post("/v1/sessions/end", body, format="json", HTTP_IDEMPOTENCY_KEY="end-1")

    assert first.status_code == retry.status_code == 200
    assert retry.json() == first.json() and retry["Idempotent-Replayed"] == "true"
    assert num(wallet_of(webuddy_client, expert["id"])["balance"]) == D(90)


def test_a_retried_user_creation_creates_one_user(webuddy_client):
    body = {"phoneNumber": "+919811111111"}
    first = webuddy_client.post("/v1/users", body, format="json", HTTP_IDEMPOTENCY_KEY="u-1")
    retry = webuddy_client.post("/v1/users", body, format="json", HTTP_IDEMPOTENCY_KEY="u-1")
    assert (first.status_code, retry.status_code) == (201, 201)
    assert first.json()["id"] == retry.json()["id"]


@pytest.fixture
def schema(api_client):
    return api_client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()


def _fields(schema, ref):
    return set(schema["components"]["schemas"][ref.rsplit("/", 1)[-1]]["properties"])


# The providers' webhooks: signed, no API key.
WEBHOOKS = [("post", "/v1/webhooks/razorpay"), ("post", "/v1/webhooks/stripe")]


def test_schema_lists_every_webuddy_endpoint(schema):
    paths = schema["paths"]
    documented = {(method, path) for path, operations in paths.items() if path.startswith("/v1/") for method in operations}
    assert documented == {(method, path) for method, path, _ in ENDPOINTS} | set(WEBHOOKS)
    for method, path in WEBHOOKS:
        assert paths[path][method].get("security") in (None, [], [{}])
    for method, path, _ in ENDPOINTS:
        assert {"ApiKey": []} in paths[path][method]["security"]


def test_schema_has_the_exact_camelcase_fields(schema):
    paths = schema["paths"]

    def response_fields(path, method, status):
        return _fields(schema, paths[path][method]["responses"][status]["content"]["application/json"]["schema"]["$ref"])

    def request_fields(path, method):
        return _fields(schema, paths[path][method]["requestBody"]["content"]["application/json"]["schema"]["$ref"])

    assert response_fields("/v1/users", "post", "201") == {"id", "phoneNumber", "name", "max_credits", "settings", "wallet", "createdAt", "updatedAt"}
    assert request_fields("/v1/users", "post") == {"phoneNumber", "name", "max_credits", "settings"}
    assert request_fields("/v1/wallet/recharge", "post") == {"userId", "amount", "paymentMethod"}
    assert request_fields("/v1/sessions/adjust", "post") == {"sessionId", "adjustedFee", "deferFee"}
    assert request_fields("/v1/payouts/monthly", "post") >= {"expertId", "month", "payoutThreshold"}
    assert request_fields("/v1/experts/bank-details", "post") == {
        "expertId", "bankName", "accountNumber", "ifscCode", "accountHolderName", "branchName", "stripeAccountId",
    }
    assert response_fields("/v1/sessions/end", "post", "200") == {
        "id", "userId", "expertId", "status", "sessionFee", "currentFee", "heldAmount", "deferredAmount",
        "actualFee", "chargedAmount", "expertEarning", "platformFee", "startedAt", "endedAt",
    }
    assert response_fields("/v1/payouts/manual", "post", "201") >= {"providerPayoutId", "failureReason", "bankAccountId"}
    history = schema["components"]["schemas"]["HistoryItemOut"]["properties"]
    assert set(history) == {"id", "type", "amount", "currency", "direction", "balanceAfter", "description", "referenceType", "referenceId", "createdAt"}


@pytest.mark.parametrize(
    ("path", "method", "status", "code"),
    [
        ("/v1/users", "post", "409", "phone_number_taken"),
        ("/v1/users/{user_id}", "patch", "409", "credit_in_use"),
        ("/v1/sessions/start", "post", "400", "insufficient_balance"),
        ("/v1/sessions/end", "post", "400", "expert_mismatch"),
        ("/v1/sessions/end", "post", "409", "session_not_active"),
        ("/v1/payouts/manual", "post", "400", "bank_account_not_found"),
        ("/v1/payouts/monthly", "post", "409", "payout_already_exists"),
        ("/v1/payouts/monthly", "post", "400", "month_not_ended"),
        ("/v1/experts/bank-details", "post", "409", "bank_account_exists"),
        ("/v1/wallet/recharge", "post", "403", "wallet_suspended"),
        ("/v1/wallet/recharge", "post", "422", "idempotency_key_reused"),
        ("/v1/sessions/{session_id}", "get", "404", "session_not_found"),
        ("/v1/wallet/history", "get", "401", "not_authenticated"),
    ],
)
def test_schema_documents_each_error_code(schema, path, method, status, code):
    response = schema["paths"][path][method]["responses"][status]
    assert f"`{code}`" in response["description"]
    assert response["content"]["application/json"]["schema"]["$ref"].endswith("/Error")


def test_schema_documents_the_idempotency_key_on_posts(schema):
    parameters = schema["paths"]["/v1/sessions/start"]["post"]["parameters"]
    assert any(p["name"] == "Idempotency-Key" and p["in"] == "header" for p in parameters)
