"""The API plumbing both dialects share: auth, the error envelope, health, schema and docs."""
import os
import re
import subprocess
import sys
from decimal import Decimal

import pytest
from django.core.management import call_command
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import AccessToken

from tests.factories import make_api_key, make_user, make_wallet
from wallets.models import ApiKey
from wallets.services import accounts
from wallets.services.api_keys import api_key_update

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.api.urls")]
D = Decimal


def test_healthz_answers_ok(api_client):
    response = api_client.get("/healthz")
    assert (response.status_code, response.json()) == (200, {"status": "ok"})


def test_missing_or_bad_api_key_is_401_not_authenticated(api_client):
    wallet = make_wallet()
    for header in (None, "Api-Key nope", "Api-Key wk_abc_def", "Bearer not-a-jwt", "Basic Zm9vOmJhcg=="):
        client = APIClient()
        if header:
            client.credentials(HTTP_AUTHORIZATION=header)
        response = client.post("/v1/test/deposit", {"walletId": str(wallet.id), "amount": 5}, format="json")
        assert response.status_code == 401, header
        assert response.json()["code"] == "not_authenticated"
        assert set(response.json()) == {"code", "message"}


def test_revoked_api_key_is_refused():
    key, raw = make_api_key("webuddy")
    key.is_active = False
    key.save()
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {raw}")
    assert client.post("/v1/test/deposit", {}, format="json").status_code == 401


def test_key_of_another_scope_is_403_permission_denied(tmr_key_client, webuddy_client):
    response = tmr_key_client.post("/v1/test/deposit", {}, format="json")
    assert (response.status_code, response.json()["code"]) == (403, "permission_denied")
    response = webuddy_client.post("/v1/test/tmr", {}, format="json")
    assert (response.status_code, response.json()["code"]) == (403, "permission_denied")


def test_end_user_jwt_cannot_use_a_partner_endpoint_and_keys_cannot_act_as_users(webuddy_client):
    user = make_user()
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {AccessToken.for_user(user)}")
    assert client.get("/api/v1/test/me").json() == {"id": str(user.id)}
    assert client.post("/v1/test/deposit", {}, format="json").status_code == 403
    assert webuddy_client.get("/api/v1/test/me").status_code == 403


def test_deposit_through_the_api_renders_exact_decimals(webuddy_client):
    wallet = make_wallet(currency="USDC")
    response = webuddy_client.post(
        "/v1/test/deposit",
        data='{"walletId": "%s", "amount": 0.100000}' % wallet.id,
        content_type="application/json",
    )
    assert response.status_code == 201
    assert b'"balance":0.100000' in response.content


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ('{"walletId": "%s", "amount": 0}', "amount"),
        ('{"walletId": "%s", "amount": -1}', "amount"),
        ('{"walletId": "%s", "amount": 1.005}', "amount"),
        ('{"walletId": "%s", "amount": "10"}', "amount"),
        ('{"walletId": "%s", "amount": 1e13}', "amount"),
        ('{"walletId": "%s", "amount": NaN}', "amount"),
        ('{"walletId": "%s", "amount": Infinity}', "amount"),
        ('{"walletId": "%s"}', "amount"),
        ('{"walletId": "not-a-uuid%s", "amount": 1}', "walletId"),
    ],
)
@pytest.mark.parametrize(("prefix", "status"), [("/v1", 400), ("/api/v1", 422)])
def test_validation_errors_use_the_envelope_with_the_dialects_status(webuddy_client, body, field, prefix, status):
    wallet = make_wallet()
    response = webuddy_client.post(f"{prefix}/test/deposit", data=body % wallet.id, content_type="application/json")
    assert response.status_code == status
    payload = response.json()
    assert payload["code"] == "validation_error"
    assert field in payload["fields"]
    assert isinstance(payload["message"], str) and payload["message"]
    wallet.refresh_from_db()
    assert wallet.balance == 0


@pytest.mark.parametrize(("prefix", "status"), [("/v1", 400), ("/api/v1", 422)])
@pytest.mark.parametrize("body", ['{"amount": ', "not json", '{"a": 1,}', "\xff"])
def test_malformed_json_is_a_client_error_never_a_500(webuddy_client, prefix, status, body):
    response = webuddy_client.post(f"{prefix}/test/deposit", data=body, content_type="application/json")
    assert response.status_code == status
    assert response.json()["code"] == "malformed_json"


def test_unknown_route_and_unexpected_errors_answer_with_the_envelope(webuddy_client):
    response = webuddy_client.get("/v1/nothing-here")
    assert (response.status_code, response.json()["code"]) == (404, "not_found")
    client = APIClient(raise_request_exception=False)
    response = client.get("/v1/test/boom")
    assert (response.status_code, response.json()["code"]) == (500, "server_error")


def test_wrong_method_is_405(webuddy_client):
    response = webuddy_client.get("/v1/test/deposit")
    assert (response.status_code, response.json()["code"]) == (405, "method_not_allowed")


def test_domain_errors_render_their_code_and_status(webuddy_client):
    wallet = make_wallet()

    accounts.wallet_suspend(wallet=wallet)
    response = webuddy_client.post("/v1/test/deposit", {"walletId": str(wallet.id), "amount": 5}, format="json")
    assert (response.status_code, response.json()["code"]) == (403, "wallet_suspended")


def test_schema_and_docs_are_served_without_a_cdn(api_client):
    schema = api_client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert schema.status_code == 200
    assert "ApiKey" in schema.json()["components"]["securitySchemes"]
    docs = api_client.get("/api/docs/")
    assert docs.status_code == 200
    html = docs.content.decode()
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/" in html
    # Every asset the page loads is served by us (a random CSRF token may spell "cdn"; look at addresses).
    assets = re.findall(r"""(?:src|href)\s*=\s*["']([^"']+)["']""", html)
    assert assets and all(not a.startswith(("http:", "https:", "//")) for a in assets), assets
    assert "cdn.jsdelivr" not in html and "unpkg.com" not in html


def test_create_api_key_prints_the_key_as_its_last_line(capsys):
    call_command("create_api_key", "orders service", "--scope", "tmr")
    raw = capsys.readouterr().out.strip().splitlines()[-1]
    key = ApiKey.objects.get()
    assert (key.name, key.scope) == ("orders service", "tmr")
    assert raw.startswith("wk_") and raw not in key.key_hash and key.prefix in raw
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {raw}")
    assert client.post("/v1/test/tmr", {}, format="json").json() == {"ok": True}


@pytest.mark.parametrize("missing", ["SECRET_KEY", "FIELD_ENCRYPTION_KEY"])
def test_production_settings_refuse_to_start_without_secrets(missing):
    env = {k: v for k, v in os.environ.items() if k not in ("DEBUG", missing)}
    env.update({"DJANGO_SETTINGS_MODULE": "config.settings", "SECRET_KEY": "x", "FIELD_ENCRYPTION_KEY": "y"})
    del env[missing]
    result = subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"], env=env, capture_output=True, text=True
    )
    assert result.returncode != 0
    assert missing in result.stderr and "refusing to start" in result.stderr


def test_a_disallowed_host_gets_the_envelope_not_html(settings):
    settings.DEBUG = False
    response = APIClient().get("/healthz", HTTP_HOST="evil.example")
    assert response.status_code == 400
    assert response.json()["code"] == "bad_request"


def test_a_revoked_key_is_refused_at_once(settings, django_assert_num_queries):
    """No process keeps keys: each request reads its key (one query), so revocation is immediate."""
    key, raw = make_api_key("tmr")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {raw}")
    assert client.post("/v1/test/tmr", {}, format="json").status_code == 200
    with django_assert_num_queries(1):
        assert client.post("/v1/test/tmr", {}, format="json").status_code == 200
    api_key_update(key=key, name=key.name, is_active=False)
    response = client.post("/v1/test/tmr", {}, format="json")
    assert response.status_code == 401 and response.json()["code"] == "not_authenticated"
