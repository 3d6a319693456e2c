"""Request ids, log lines, /metrics and /readyz: what an operator sees of the service."""
import io
import json
import logging
import os
import subprocess
import sys
import threading
from decimal import Decimal
from pathlib import Path

import pytest
import responses
from prometheus_client import REGISTRY
from rest_framework.test import APIClient

from tests.webuddy.helpers import create_user, funded_user
from wallets.logs import JsonLines, RequestIdFilter

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.django_db


def sample(name: str, **labels) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


# Request ids

def test_every_response_has_a_request_id_and_a_sane_one_is_passed_through(webuddy_client):
    made = APIClient().get("/healthz")
    assert len(made["X-Request-Id"]) == 32 and made["X-Request-Id"] != APIClient().get("/healthz")["X-Request-Id"]
    assert APIClient().get("/healthz", HTTP_X_REQUEST_ID="lb-1234.abc")["X-Request-Id"] == "lb-1234.abc"
    # Not a token (spaces, a newline, too long): replaced, never echoed into headers and logs.
    for bad in ["two words", "x\nInjected: 1", "a" * 129, ""]:
        assert APIClient().get("/healthz", HTTP_X_REQUEST_ID=bad)["X-Request-Id"] not in {bad, ""}
    # Errors too: unknown endpoint, missing credentials, validation errors.
    assert APIClient().get("/v1/nothing-here").has_header("X-Request-Id")
    assert APIClient().post("/v1/users", {}, format="json").has_header("X-Request-Id")
    assert webuddy_client.post("/v1/users", {}, format="json").has_header("X-Request-Id")


def test_log_lines_are_json_and_carry_the_request_id(webuddy_client, settings):
    settings.ACCESS_LOG = True
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonLines())
    handler.addFilter(RequestIdFilter())
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    try:
        made = webuddy_client.post("/v1/users", {"phoneNumber": "+919812345678", "name": "Asha"}, format="json",
                                   HTTP_X_REQUEST_ID="req-42")
        refused = webuddy_client.post("/v1/users", {}, format="json", HTTP_X_REQUEST_ID="req-43")
        # A job or a command runs in a thread of its own, outside any request.
        job = threading.Thread(target=lambda: logging.getLogger("wallet.test").info("outside any request"))
        job.start()
        job.join()
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)
    assert (made.status_code, refused.status_code) == (201, 400)
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    access = {line["request_id"]: line for line in lines if line["logger"] == "wallet.access"}
    assert (access["req-42"]["method"], access["req-42"]["path"], access["req-42"]["status"]) == ("POST", "/v1/users", 201)
    assert access["req-42"]["endpoint"] == "v1/users" and access["req-42"]["duration_ms"] >= 0
    assert {"time", "level", "message", "client_ip"} <= access["req-42"].keys()
    assert access["req-43"]["status"] == 400
    # Django's own line about the 400 is written after the middleware answered: it has the id too.
    [django_line] = [line for line in lines if line["logger"] == "django.request"]
    assert django_line["request_id"] == "req-43"
    [outside] = [line for line in lines if line["message"] == "outside any request"]
    assert outside["request_id"] == "-"


# /metrics

def metrics_text(**extra) -> str:
    response = APIClient().get("/metrics", **extra)
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/plain")
    return response.content.decode()


def test_metrics_are_only_for_the_allowed_addresses(settings):
    assert "wallet_request_duration_seconds" in metrics_text()  # the test client is 127.0.0.1
    outsider = APIClient().get("/metrics", REMOTE_ADDR="203.0.113.5")
    assert (outsider.status_code, outsider.json()["code"]) == (404, "not_found")
    # A header cannot make an outsider an insider.
    assert APIClient().get("/metrics", REMOTE_ADDR="203.0.113.5", HTTP_X_FORWARDED_FOR="127.0.0.1").status_code == 404
    settings.METRICS_ALLOWED_IPS = ["10.0.0.0/8"]
    assert APIClient().get("/metrics").status_code == 404
    assert APIClient().get("/metrics", REMOTE_ADDR="10.1.2.3").status_code == 200
    settings.METRICS_ALLOWED_IPS = []
    assert APIClient().get("/metrics", REMOTE_ADDR="10.1.2.3").status_code == 404


@pytest.mark.django_db(transaction=True)
def test_postings_refusals_and_request_latency_are_counted(webuddy_client):
    before = {
        "deposit": sample("wallet_postings_total", kind="deposit"),
        "refused": sample("wallet_refusals_total", code="insufficient_balance"),
        "requests": sample("wallet_request_duration_seconds_count", endpoint="v1/sessions/start", method="POST", status="4xx"),
    }
    user, expert = funded_user(webuddy_client, 5), create_user(webuddy_client)
    refused = webuddy_client.post("/v1/sessions/start", {"userId": user["id"], "expertId": expert["id"], "sessionFee": 50},
                                  format="json")
    assert refused.json()["code"] == "insufficient_balance"

    assert sample("wallet_postings_total", kind="deposit") == before["deposit"] + 1
    assert sample("wallet_refusals_total", code="insufficient_balance") == before["refused"] + 1
    assert sample("wallet_request_duration_seconds_count", endpoint="v1/sessions/start", method="POST",
                  status="4xx") == before["requests"] + 1
    text = metrics_text()
    assert 'wallet_postings_total{kind="deposit"}' in text
    assert 'wallet_refusals_total{code="insufficient_balance"}' in text


def test_a_posting_rolled_back_is_not_counted(django_capture_on_commit_callbacks):
    from django.db import transaction

    from tests.factories import make_wallet
    from wallets.ledger import post, system_leg, wallet_leg

    wallet = make_wallet(currency="INR")
    before = sample("wallet_postings_total", kind="adjustment")
    with django_capture_on_commit_callbacks(execute=True):
        try:
            with transaction.atomic():
                post(kind="adjustment", legs=[wallet_leg(wallet, Decimal(5), "adjustment"),
                                              system_leg(wallet.tenant_id, "adjustments", "INR", Decimal(-5), "adjustment")])
                raise RuntimeError("something after the posting failed")
        except RuntimeError:
            pass
    assert sample("wallet_postings_total", kind="adjustment") == before
    with django_capture_on_commit_callbacks(execute=True):
        post(kind="adjustment", legs=[wallet_leg(wallet, Decimal(5), "adjustment"),
                                      system_leg(wallet.tenant_id, "adjustments", "INR", Decimal(-5), "adjustment")])
    assert sample("wallet_postings_total", kind="adjustment") == before + 1


@responses.activate
def test_gateway_calls_are_timed_and_their_failures_counted(settings):
    from wallets.gateways import GatewayUnavailable
    from wallets.gateways.razorpay_live import RazorpayGateway

    settings.RAZORPAY_KEY_ID, settings.RAZORPAY_KEY_SECRET = "rzp_test_x", "secret"
    settings.RAZORPAY_API_BASE = "https://razorpay.example"
    responses.post("https://razorpay.example/v1/orders", status=503, json={"error": {"description": "down"}})
    labels = {"provider": "razorpay", "operation": "Order.create"}
    before = (sample("wallet_gateway_call_duration_seconds_count", **labels, outcome="unavailable"),
              sample("wallet_gateway_call_errors_total", **labels, error="unavailable"))
    with pytest.raises(GatewayUnavailable):
        RazorpayGateway().create_order(reference="r1", amount=Decimal(10), currency="INR", idempotency_key="k1")
    assert sample("wallet_gateway_call_duration_seconds_count", **labels, outcome="unavailable") == before[0] + 1
    assert sample("wallet_gateway_call_errors_total", **labels, error="unavailable") == before[1] + 1


@pytest.mark.django_db(transaction=True)
def test_the_job_queue_depth_and_age_are_read_from_the_database():
    from django.db import connection

    from wallets import jobs
    from wallets.tasks import purge_idempotency_keys

    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE procrastinate_jobs, procrastinate_periodic_defers CASCADE")
    try:
        jobs.defer(purge_idempotency_keys)
        jobs.defer(purge_idempotency_keys, schedule_in_seconds=3600)
        with connection.cursor() as cursor:
            cursor.execute("UPDATE procrastinate_events SET at = now() - interval '90 seconds' WHERE type = 'deferred'")
        text = metrics_text()
        assert 'wallet_jobs{queue="maintenance",state="ready"} 1.0' in text
        assert 'wallet_jobs{queue="maintenance",state="scheduled"} 1.0' in text
        age = next(line for line in text.splitlines() if line.startswith('wallet_jobs_oldest_ready_age_seconds{queue="maintenance"}'))
        assert 90 <= float(age.split()[-1]) < 600
    finally:
        with connection.cursor() as cursor:
            cursor.execute("TRUNCATE procrastinate_jobs, procrastinate_periodic_defers CASCADE")


# /readyz

def test_readyz_is_ok_when_migrated():
    response = APIClient().get("/readyz")
    assert (response.status_code, response.json()) == (200, {"status": "ok"})
    assert APIClient().get("/healthz").json() == {"status": "ok"}


@pytest.fixture
def empty_database():
    """A database with nothing migrated, on the test server (dropped after)."""
    from django.db import connection

    from tests.events.conftest import _database_url

    name = f"{connection.settings_dict['NAME']}_empty"
    with connection.cursor() as cursor:
        cursor.execute(f'DROP DATABASE IF EXISTS "{name}"')
        cursor.execute(f'CREATE DATABASE "{name}"')
    try:
        yield _database_url().rsplit("/", 1)[0] + f"/{name}"
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.mark.django_db(transaction=True)  # CREATE DATABASE cannot run inside a transaction
def test_readyz_is_503_on_a_database_with_migrations_missing(empty_database):
    """A new release started before `migrate`: alive (healthz) but not ready (readyz)."""
    script = (
        "import django, json; django.setup()\n"
        "from django.test import Client\n"
        "c = Client()\n"
        "r = c.get('/readyz'); h = c.get('/healthz')\n"
        "print(json.dumps([r.status_code, r.json(), h.status_code]))\n"
    )
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings_test",
           "DATABASE_URL": empty_database, "LOG_LEVEL": "ERROR"}
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    ready_status, ready, health_status = json.loads(result.stdout.strip().splitlines()[-1])
    assert (ready_status, health_status) == (503, 200)
    assert ready["status"] == "unavailable" and "migration" in ready["reason"]
    assert "wallets.0001_initial" in ready["pending"]
