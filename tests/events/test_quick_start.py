"""The quick start as `make run` starts it (`manage.py devserver`), with nothing set up: its own
PostgreSQL from the wheel in a directory of its own (not the machine's server, whatever DATABASE_URL
the tests were given), the web server and a job worker that delivers events; a second run reuses
the cluster, and a run after one that was killed (SIGKILL, its PostgreSQL left running) recovers."""
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil
import requests

from config.localdb import LocalServer
from tests.events.conftest import ROOT, wait_until


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Devserver:
    """`manage.py devserver` in a process of its own, its output read as it comes (a full pipe would stall it)."""

    def __init__(self, var: Path, port: int):
        env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "DJANGO_SETTINGS_MODULE")}
        env.update(DEBUG="1", WEBHOOK_ALLOW_HTTP="1", WEBHOOK_ALLOW_PRIVATE="1", QUICK_START_DIR=str(var),
                   LOG_LEVEL="WARNING")
        self.process = subprocess.Popen([sys.executable, "manage.py", "devserver", f"127.0.0.1:{port}"], cwd=ROOT,
                                        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.lines: list[str] = []
        self.reader = threading.Thread(target=lambda: self.lines.extend(self.process.stdout), daemon=True)
        self.reader.start()

    def said(self, text: str) -> str:
        wait_until(lambda: any(text in line for line in self.lines) or self.process.poll() is not None, 120,
                   f"the quick start to say {text!r}")
        found = [line for line in self.lines if text in line]
        assert found, "".join(self.lines)[-3000:]
        return found[0]

    def interrupt(self) -> int:
        """Ctrl-C: it stops its web server, worker and PostgreSQL (and says so); its exit status."""
        self.process.send_signal(signal.SIGINT)
        self.process.wait(timeout=60)
        self.reader.join(timeout=10)
        return self.process.returncode if any("Stopped." in line for line in self.lines) else -1

    def kill(self) -> None:
        self.process.kill()
        self.process.wait(timeout=30)


def test_the_quick_start_runs_on_its_own_postgresql_and_survives_a_kill(receiver):
    with tempfile.TemporaryDirectory() as tmp:
        var = Path(tmp) / "var"
        var.mkdir()
        os.chmod(tmp, 0o755)  # as root the server runs as another user, who must reach var/postgres
        server = LocalServer(var / "postgres")
        try:
            _three_runs(var, server, receiver)
        finally:
            server.destroy()  # whatever failed, no server is left serving a deleted directory


def _three_runs(var: Path, server: LocalServer, receiver) -> None:
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    first = Devserver(var, port)
    try:
        assert "(made and started)" in first.said("PostgreSQL in")
        wait_until(lambda: _up(base), 120, "the quick-start server")
        key = json.loads((var / "dev-credentials.json").read_text())["webuddy_key"]
        api = requests.Session()
        api.headers["Authorization"] = f"Api-Key {key}"
        assert api.post(f"{base}/v1/webhook-endpoints", json={"url": receiver.url}).status_code == 201
        user = api.post(f"{base}/v1/users", json={"phoneNumber": "+919876500001"}).json()
        recharged = api.post(f"{base}/v1/wallet/recharge",
                             json={"userId": user["id"], "amount": 50, "paymentMethod": "RAZORPAY"})
        assert (recharged.status_code, recharged.json()["wallet"]["balance"]) == (201, 50)
        wait_until(lambda: len(receiver.received) >= 1, 60, "the event, delivered by the quick start's worker")
        assert [body["type"] for body in receiver.bodies()] == ["recharge.succeeded"]
        again = Devserver(var, _free_port())  # a second quick start on the same directory is refused
        assert again.process.wait(timeout=60) != 0
        again.reader.join(timeout=10)
        assert "already runs" in "".join(again.lines) and _up(base)
    finally:
        stopped = first.interrupt()
    assert stopped == 0 and not server.running()

    second = Devserver(var, port)
    try:
        assert "(started)" in second.said("PostgreSQL in")
        wait_until(lambda: _up(base), 120, "the quick-start server, again")
        assert api.get(f"{base}/v1/users/{user['id']}").json()["wallet"]["balance"] == 50
        children = psutil.Process(second.process.pid).children(recursive=True)
        assert len(children) >= 2  # the web server and the job worker
    finally:
        second.kill()  # SIGKILL: nothing of it runs its clean-up
    assert server.running()  # its PostgreSQL was left running
    wait_until(lambda: not any(child.is_running() and child.status() != psutil.STATUS_ZOMBIE for child in children),
               30, "the killed run's web server and worker to go with it")
    (var / "postgres" / "port").write_text("1\n")  # and a port file that no longer says where it listens

    third = Devserver(var, port)
    try:
        assert "already running: reused" in third.said("PostgreSQL in")
        wait_until(lambda: _up(base), 120, "the quick-start server after a kill")
        assert api.get(f"{base}/v1/users/{user['id']}").json()["wallet"]["balance"] == 50
        assert server.port != 1
    finally:
        stopped = third.interrupt()
    assert stopped == 0 and not server.running()


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
