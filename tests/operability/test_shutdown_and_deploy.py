"""Graceful shutdown (SIGTERM lets requests in flight finish) and production settings that pass
`manage.py check --deploy` with no warning."""
import os
import signal
import socket
import subprocess
import sys
import threading
from decimal import Decimal
from pathlib import Path

import pytest
import requests
from django.utils import timezone

from bench.gateway_double import Double, serve
from payouts.models import Payout
from tests.events.conftest import _database_url, wait_until
from tests.events.test_workers import live_env
from tests.factories import make_api_key
from tests.history import backdated_deposit
from tests.webuddy.helpers import create_user
from tests.webuddy.test_bank_details import add as add_bank
from wallets.models import Account

ROOT = Path(__file__).resolve().parents[2]
GUNICORN = Path(sys.executable).parent / "gunicorn"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.django_db(transaction=True)
def test_sigterm_lets_a_request_in_flight_finish(webuddy_client):
    """A manual payout is inside its bank call when the server is told to stop: the server stops
    taking new connections, the payout request still gets its answer, then the server exits."""
    double = Double(service="http://127.0.0.1:9")
    bank_server = serve(double)
    port = free_port()
    env = {**os.environ, **live_env(f"http://127.0.0.1:{bank_server.server_port}"),
           "DJANGO_SETTINGS_MODULE": "config.settings_test", "DATABASE_URL": _database_url(),
           "PORT": str(port), "WEB_CONCURRENCY": "1", "WEB_THREADS": "2", "GRACEFUL_TIMEOUT": "60",
           "GATEWAY_TIMEOUT_SECONDS": "60", "IDEMPOTENCY_LEASE_SECONDS": "120", "LOG_LEVEL": "WARNING"}
    expert = create_user(webuddy_client)
    wallet = Account.objects.get(user_id=expert["id"])
    backdated_deposit(wallet, Decimal(500), timezone.now())
    bank = add_bank(webuddy_client, expert["id"]).json()
    _, key = make_api_key("webuddy")
    server = subprocess.Popen([str(GUNICORN), "config.wsgi", "-c", "config/gunicorn.py", "--bind", f"127.0.0.1:{port}"],
                              cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
    answer: dict = {}
    try:
        wait_until(lambda: _answers(port), 60, "gunicorn to start")
        double.payouts_open.clear()

        def pay():
            answer["response"] = requests.post(
                f"http://127.0.0.1:{port}/v1/payouts/manual", timeout=120,
                json={"expertId": expert["id"], "amount": 300, "bankAccount": bank["id"], "paymentMethod": "RAZORPAY"},
                headers={"Authorization": f"Api-Key {key}", "Idempotency-Key": "graceful-1"})

        caller = threading.Thread(target=pay)
        caller.start()
        wait_until(lambda: double.payouts_waiting >= 1, 60, "the payout request to be inside the bank call")

        server.send_signal(signal.SIGTERM)
        wait_until(lambda: not _answers(port), 30, "the server to stop taking new connections")
        assert server.poll() is None  # still there: it has a request to finish

        double.payouts_open.set()
        caller.join(90)
        assert answer["response"].status_code == 201, answer["response"].text
        assert answer["response"].json()["status"] == "processing"
        assert server.wait(60) == 0
        assert Payout.objects.get(expert_id=expert["id"]).status == "processing"
        assert len(double.payouts) == 1
    finally:
        double.payouts_open.set()
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait(10)
        bank_server.shutdown()
        bank_server.server_close()


def _answers(port: int) -> bool:
    try:
        return requests.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200
    except requests.RequestException:
        return False


PRODUCTION = {
    "DJANGO_SETTINGS_MODULE": "config.settings",
    "DEBUG": "0",
    "SECRET_KEY": "k3Xn9vQ2-production-like-secret-7hG5mW1zR8pL4tY6uE0oI3aS2dF9gH1jK5lZ8xC",
    "FIELD_ENCRYPTION_KEY": "Zm9yLXRlc3RzLW9ubHktZmllbGQta2V5LTMyLWJ5dGU=",
    "ALLOWED_HOSTS": "wallet.example.com",
    "CSRF_TRUSTED_ORIGINS": "https://wallet.example.com",
}


def run_check(**extra) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in {"DEBUG", "SECURE_SSL_REDIRECT", "SECURE_HSTS_SECONDS"}}
    env.update(PRODUCTION, DATABASE_URL=_database_url(), **extra)
    return subprocess.run([sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)




@pytest.mark.django_db
def test_production_settings_pass_check_deploy_without_a_warning():
    result = run_check()
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


@pytest.mark.django_db
def test_check_deploy_fails_on_a_weak_production_setting():
    """The check above can fail: a short secret key or HSTS switched off are reported."""
    result = run_check(SECRET_KEY="short")
    assert result.returncode != 0 and "security.W009" in result.stdout + result.stderr
    result = run_check(SECURE_HSTS_SECONDS="0")
    assert result.returncode != 0 and "security.W004" in result.stdout + result.stderr
