"""The SQLite quick start has no job workers: jobs run in the server process after the commit. Here
the quick start's own server (`runserver` on a fresh SQLite file, as `make run` starts it) delivers
every event to a receiver, with nothing else set up."""
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
import requests

from tests.events.conftest import ROOT, wait_until

pytestmark = pytest.mark.postgres_only  # it makes its own SQLite database: once per `make test` is enough


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_the_quick_start_server_delivers_events_with_nothing_else_set_up(receiver):
    with tempfile.TemporaryDirectory() as var:
        env = {**os.environ, "DEBUG": "1", "WEBHOOK_ALLOW_HTTP": "1", "WEBHOOK_ALLOW_PRIVATE": "1",
               "DATABASE_URL": f"sqlite:///{Path(var) / 'db.sqlite3'}", "LOG_LEVEL": "WARNING"}
        env.pop("DJANGO_SETTINGS_MODULE", None)
        manage = [sys.executable, "manage.py"]
        subprocess.run([*manage, "migrate", "--noinput", "-v0"], cwd=ROOT, env=env, check=True, capture_output=True)
        made = subprocess.run([*manage, "create_api_key", "quick-start", "--tenant", "webuddy"], cwd=ROOT, env=env,
                              check=True, capture_output=True, text=True)
        key = made.stdout.strip().splitlines()[-1]
        port = _free_port()
        server = subprocess.Popen([*manage, "runserver", "--noreload", f"127.0.0.1:{port}"], cwd=ROOT, env=env,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            base = f"http://127.0.0.1:{port}"
            wait_until(lambda: _up(base), 60, "the quick-start server")
            api = requests.Session()
            api.headers["Authorization"] = f"Api-Key {key}"
            assert api.post(f"{base}/v1/webhook-endpoints", json={"url": receiver.url}).status_code == 201
            user = api.post(f"{base}/v1/users", json={"phoneNumber": "+919876500001"}).json()
            assert api.post(f"{base}/v1/wallet/recharge",
                            json={"userId": user["id"], "amount": 50, "paymentMethod": "RAZORPAY"}).status_code == 201
            # written right after the first: the in-process dispatch must not drop it
            assert api.post(f"{base}/v1/wallet/monitors", json={"userId": user["id"], "below": 100}).status_code == 201

            wait_until(lambda: len(receiver.received) >= 2, 30, "both events at the receiver")
            assert sorted(body["type"] for body in receiver.bodies()) == ["recharge.succeeded", "wallet.balance_low"]
            listed = api.get(f"{base}/v1/events").json()
            assert [e["type"] for e in listed["items"]] == ["recharge.succeeded", "wallet.balance_low"]
        finally:
            server.terminate()
            server.wait(15)


def _up(base: str) -> bool:
    try:
        return requests.get(f"{base}/healthz", timeout=2).status_code == 200
    except requests.RequestException:
        return False



def test_the_webhook_receiver_command_prints_each_delivery_and_checks_its_signature():
    from wallets.events import signature

    port, secret = _free_port(), "whsec_quick_start"
    receiver = subprocess.Popen([sys.executable, "manage.py", "webhook_receiver", "--port", str(port), "--secret", secret,
                                 "--once"], cwd=ROOT, env={**os.environ, "LOG_LEVEL": "WARNING"},
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert "Receiving deliveries on" in receiver.stdout.readline()
        body = b'{"id": "e1", "type": "recharge.succeeded", "createdAt": "2026-01-01T00:00:00Z", "data": {}}'
        now = int(time.time())
        forged = requests.post(f"http://127.0.0.1:{port}/hooks", data=body, timeout=5, headers={
            "Wallet-Signature": signature("whsec_other", now, body), "Wallet-Event-Id": "e0"})
        good = requests.post(f"http://127.0.0.1:{port}/hooks", data=body, timeout=5, headers={
            "Wallet-Signature": signature(secret, now, body), "Wallet-Event-Id": "e1"})
        out, _ = receiver.communicate(timeout=30)
    finally:
        receiver.kill()

    assert (forged.status_code, good.status_code, receiver.returncode) == (400, 204, 0)
    assert out.splitlines() == ["recharge.succeeded e0 BAD SIGNATURE", "recharge.succeeded e1 signature verified"]
