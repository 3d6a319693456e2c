"""The TMR dialect in the OpenAPI schema: the seed's snake_case names and every error code."""
import pytest

pytestmark = pytest.mark.django_db

ENDPOINTS = {
    ("post", "/api/v1/auth/register"),
    ("post", "/api/v1/auth/token"),
    ("post", "/api/v1/auth/token/refresh"),
    ("get", "/api/v1/wallet"),
    ("post", "/api/v1/wallet/charge"),
    ("post", "/api/v1/wallet/withdraw"),
    ("get", "/api/v1/wallet/transactions"),
    ("get", "/api/v1/wallet/kyc"),
    ("post", "/api/v1/wallet/kyc"),
    ("post", "/api/v1/wallet/escrow/freeze"),
    ("post", "/api/v1/wallet/escrow/release"),
    ("post", "/api/v1/wallet/escrow/cancel"),
    ("post", "/api/v1/wallet/webhook-endpoints"),
    ("get", "/api/v1/wallet/webhook-endpoints"),
    ("delete", "/api/v1/wallet/webhook-endpoints/{endpoint_id}"),
    ("get", "/api/v1/wallet/events"),
}


@pytest.fixture
def schema(api_client):
    return api_client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()


def props(schema, ref):
    return set(schema["components"]["schemas"][ref.rsplit("/", 1)[-1]]["properties"])


def test_every_tmr_endpoint_is_documented(schema):
    documented = {(m, p) for p, ops in schema["paths"].items() if p.startswith("/api/v1/") for m in ops}
    assert documented == ENDPOINTS


def test_the_seed_field_names(schema):
    paths = schema["paths"]

    def response(path, method, status="200"):
        return props(schema, paths[path][method]["responses"][status]["content"]["application/json"]["schema"]["$ref"])

    def request(path, method):
        return props(schema, paths[path][method]["requestBody"]["content"]["application/json"]["schema"]["$ref"])

    wallet = {"id", "user_id", "balance", "frozen_balance", "currency", "status", "created_at", "updated_at"}
    assert response("/api/v1/wallet", "get") == wallet
    assert response("/api/v1/wallet/charge", "post") == wallet
    assert request("/api/v1/wallet/withdraw", "post") == {"amount", "currency"}
    assert response("/api/v1/wallet/transactions", "get") == {"items", "total"}
    assert props(schema, "TransactionOut") == {
        "id", "wallet_id", "type", "amount", "currency", "description", "reference_id", "reference_type", "created_at",
    }
    assert request("/api/v1/wallet/kyc", "post") == {"full_name", "id_type", "id_number"}
    assert response("/api/v1/wallet/kyc", "get") == {"user_id", "full_name", "id_type", "id_number", "status", "submitted_at", "verified_at"}
    assert request("/api/v1/wallet/escrow/freeze", "post") == {"user_id", "order_id", "amount", "currency"}
    assert response("/api/v1/wallet/escrow/freeze", "post", "201") >= {"order_id", "user_id", "amount", "currency", "status"}
    assert schema["paths"]["/api/v1/wallet"]["get"]["security"] == [{"jwtAuth": []}]
    assert {"ApiKey": []} in schema["paths"]["/api/v1/wallet/escrow/freeze"]["post"]["security"]


@pytest.mark.parametrize(
    ("path", "method", "status", "code"),
    [
        ("/api/v1/wallet", "get", "401", "not_authenticated"),
        ("/api/v1/wallet", "get", "404", "wallet_not_found"),
        ("/api/v1/wallet/charge", "post", "422", "validation_error"),
        ("/api/v1/wallet/withdraw", "post", "400", "insufficient_balance"),
        ("/api/v1/wallet/withdraw", "post", "422", "validation_error"),
        ("/api/v1/wallet/transactions", "get", "401", "not_authenticated"),
        ("/api/v1/wallet/kyc", "post", "409", "kyc_already_submitted"),
        ("/api/v1/wallet/kyc", "post", "422", "validation_error"),
        ("/api/v1/wallet/kyc", "get", "404", "kyc_not_found"),
        ("/api/v1/auth/token", "post", "429", "rate_limited"),
        ("/api/v1/auth/register", "post", "409", "username_taken"),
        ("/api/v1/wallet/escrow/freeze", "post", "409", "order_already_exists"),
        ("/api/v1/wallet/escrow/release", "post", "409", "order_not_frozen"),
        ("/api/v1/wallet/escrow/cancel", "post", "404", "order_not_found"),
    ],
)
def test_each_error_code_is_documented(schema, path, method, status, code):
    response = schema["paths"][path][method]["responses"][status]
    assert f"`{code}`" in response["description"]
