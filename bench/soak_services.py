"""The soak's moving parts (`bench.soak`): the webhook receiver registered as a client endpoint, the
service's processes (gunicorn, job workers) started and killed, the faults, and the printed report."""
import hashlib
import hmac
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import psycopg
import requests

from bench.env import ROOT

WEB_WORKERS, WEB_THREADS, JOB_WORKERS, JOB_CONCURRENCY = 3, 4, 2, 4


class Receiver:
    """The client backends' webhook endpoints (`/hooks/<tenant>`): each delivery's signature is checked
    with its endpoint's secret; most are acknowledged (200), a few refused (500) so that the service's
    retries are exercised. Keeps the ids acknowledged and, for probes, the orders of escrow events."""

    def __init__(self, seed: int, refuse_share: float):
        self.secrets: dict[str, str] = {}
        self.acknowledged: set[str] = set()
        self.orders: set[str] = set()
        self.counts = Counter()
        self.rng = random.Random(seed)
        self.refuse_share = refuse_share
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                status = receiver.receive(self.path, self.headers, body)
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def url(self, tenant: str) -> str:
        return f"http://127.0.0.1:{self.server.server_port}/hooks/{tenant}"

    def receive(self, path: str, headers, body: bytes) -> int:
        secret = self.secrets.get(path)
        try:
            parts = dict(item.split("=", 1) for item in headers.get("Wallet-Signature", "").split(","))
            expected = hmac.new(secret.encode(), f"{parts['t']}.".encode() + body, hashlib.sha256).hexdigest()
            good = hmac.compare_digest(expected, parts["v1"])
            envelope = json.loads(body)
        except (AttributeError, KeyError, ValueError):
            good = False
        with self.lock:
            self.counts["requests"] += 1
            if not good or headers.get("Wallet-Event-Id") != envelope.get("id"):
                self.counts["bad signatures"] += 1
                return 400
            if self.rng.random() < self.refuse_share:
                self.counts["refused on purpose"] += 1
                return 500
            if envelope["id"] in self.acknowledged:
                self.counts["repeats"] += 1
            self.acknowledged.add(envelope["id"])
            if envelope["type"].startswith("escrow."):
                self.orders.add(f"{envelope['type']}:{envelope['data']['order_id']}")
            return 200

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


class Services:
    """The service's processes on the soak's cluster: gunicorn and the job workers, each in its own
    process group, stopped (then killed) by `stop()`."""

    def __init__(self, env: dict, logs: Path, port: int, database_url: str, worker_env: dict | None = None):
        self.env, self.logs, self.port, self.database_url = env, logs, port, database_url
        self.worker_env = worker_env or env
        self.web: subprocess.Popen | None = None
        self.workers: list[subprocess.Popen] = []
        self.started: list[subprocess.Popen] = []

    def _spawn(self, command: list[str], log_name: str, env: dict | None = None) -> subprocess.Popen:
        log = (self.logs / log_name).open("ab")
        process = subprocess.Popen(command, cwd=ROOT, env=env or self.env, stdout=log, stderr=subprocess.STDOUT,
                                   start_new_session=True)
        self.started.append(process)
        return process

    def healthy(self) -> bool:
        try:
            return requests.get(f"http://127.0.0.1:{self.port}/healthz", timeout=2).status_code == 200
        except requests.RequestException:
            return False

    def start_web(self) -> None:
        gunicorn = str(Path(sys.executable).parent / "gunicorn")
        self.web = self._spawn([gunicorn, "config.wsgi", "-b", f"127.0.0.1:{self.port}", "-w", str(WEB_WORKERS),
                                "-k", "gthread", "--threads", str(WEB_THREADS), "--timeout", "30",
                                "--graceful-timeout", "5", "--log-level", "warning"], "gunicorn.log")
        wait_for(lambda: self.healthy() and len(self.web_workers()) == WEB_WORKERS, 60, "gunicorn to serve")

    def web_workers(self) -> list[int]:
        return _children(self.web.pid) if self.web else []

    def _sql(self, query: str, *params):
        with psycopg.connect(self.database_url, connect_timeout=3, autocommit=True) as connection:
            return connection.execute(query, params).fetchall()

    def start_worker(self) -> subprocess.Popen:
        known = self.live_workers()
        process = self._spawn([sys.executable, "manage.py", "jobs_worker", "--concurrency",
                               str(JOB_CONCURRENCY), "--fetch-job-polling-interval", "0.5"],
                              f"worker-{len(self.started)}.log", env=self.worker_env)
        wait_for(lambda: self.live_workers() - known, 60, "a new job worker to register")
        self.workers.append(process)
        return process

    def live_workers(self, seconds: float = 3) -> set[int]:
        """Ids of the job workers that sent a heartbeat within `seconds` (they send one a second; a
        worker that restarts after a database failure comes back under a new id)."""
        return {row[0] for row in self._sql(
            "SELECT id FROM procrastinate_workers WHERE last_heartbeat > now() - make_interval(secs => %s)", seconds)}

    def jobs_in_flight(self, worker_ids: set[int]) -> list[int]:
        return [row[0] for row in self._sql(
            "SELECT id FROM procrastinate_jobs WHERE worker_id = ANY(%s) AND status = 'doing'", list(worker_ids))]

    def jobs_unfinished(self, job_ids: list[int]) -> int:
        if not job_ids:
            return 0
        return self._sql("SELECT count(*) FROM procrastinate_jobs WHERE id = ANY(%s) AND status IN ('todo', 'doing')",
                         job_ids)[0][0]

    def stop(self) -> None:
        for process in self.started:
            if process.poll() is None:
                _signal_group(process, signal.SIGTERM)
        deadline = time.monotonic() + 15
        for process in self.started:
            try:
                process.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                pass
            _signal_group(process, signal.SIGKILL)  # whatever is left of its group
            try:
                process.wait(5)
            except subprocess.TimeoutExpired:
                pass


def _signal_group(process: subprocess.Popen, sig: int) -> None:
    try:
        os.killpg(process.pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def wait_for(check, timeout: float, what: str, every: float = 0.1):
    deadline = time.monotonic() + timeout
    while True:
        try:
            value = check()
        except Exception:  # noqa: BLE001 - not ready yet (the database restarting, a process starting)
            value = None
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"gave up waiting for {what}")
        time.sleep(every)


@dataclass
class Fault:
    name: str
    at: float  # seconds since the traffic began
    wall: str
    t0: float  # the soak's clock when it was injected
    detail: str = ""
    recovery: float | None = None  # seconds until the service was whole again (None: it never was)
    steps: dict = field(default_factory=dict)  # seconds after the fault until each part recovered


def print_report(summary: dict) -> None:
    """The soak's summary, for a person: what ran, which faults and how they were recovered from, the checks."""
    print(f"\n== Soak: {summary['seconds']} s of traffic, seed {summary['seed']}, {summary['threads']} client threads, "
          f"gunicorn {summary['gunicorn']}, {summary['job_workers']} job workers, "
          f"gateway failure rate {summary['gateway_failure_rate']} ==")
    print(f"{summary['operations']} operations in {summary['http_requests']} HTTP requests; {summary['with_key']} with an "
          f"Idempotency-Key; {summary['retried']} retried ({summary['retried_with_key']} with their key); "
          f"{summary['impatient']} gave up on their first answer early; {summary['sent_twice_at_once']} sent twice at once")
    print(f"{'kind':32} {'ops':>6}  final answers")
    for kind, statuses in summary["by_kind"].items():
        answers = "  ".join(f"{status}: {count}" for status, count in statuses.items())
        print(f"  {kind:30} {sum(statuses.values()):6}  {answers}")
    print("HTTP answers: " + ", ".join(f"{status}: {count}" for status, count in summary["http_statuses"].items()))
    print(f"gateway double: {summary['gateway_calls_failed_on_purpose']} calls failed on purpose (503); receiver: "
          + ", ".join(f"{name} {count}" for name, count in summary["receiver"].items()))
    print("faults:")
    for fault in summary["faults"]:
        steps = ", ".join(f"{name} {seconds:.1f} s" for name, seconds in fault["steps"].items())
        recovered = f"recovered in {fault['recovery']:.1f} s" if fault["recovery"] is not None else "NOT RECOVERED"
        print(f"  +{fault['at']:.1f} s ({fault['wall']} UTC) {fault['name']}: {fault['detail']}; {recovered} ({steps})")
    sync = summary["settled_by_sync"]
    print(f"then sync_gateway_status (as its periodic job would) looked at {sync['looked_at'] or 'nothing'}: "
          f"{sync['outcomes'] or 'nothing'}; deliveries drained {summary['drain_seconds']} s after")
    print("checks:")
    for check in summary["checks"]:
        print(f"  {'PASS' if check['ok'] else 'FAIL'} {check['check']}" + (f": {check['detail']}" if check["detail"] else ""))
        for problem in check["problems"]:
            print(f"       - {problem}")
    lost = ", ".join(f"{amount} {currency}" for currency, amount in summary["money_lost"].items()) or "0"
    print(f"money lost: {lost}")
    print(f"RESULT: {'PASS' if summary['ok'] else 'FAIL'}", flush=True)
