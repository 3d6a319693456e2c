"""A randomized soak with faults: the whole service under mixed traffic while its processes are
killed and its database restarted, then a check that no money was lost or doubled.

    python -m bench.soak --seconds 60 --seed 1 [--threads 8] [--failure-rate 0.03] [--json PATH] [--pooler]

It makes its own throwaway PostgreSQL cluster (`bench.pgcluster`), migrates it and runs the service
as in production: gunicorn (several workers), two job workers (`manage.py jobs_worker`),
`PAYMENTS_MODE=live` against the gateway double (`bench.gateway_double`, failing a share of the calls
on purpose), and a webhook receiver registered as a client endpoint of both tenants. Client threads (`bench.soak_traffic`)
fire recharges and their signed provider webhooks (some twice, some late, some out of order), sessions,
payouts and the bank's answers to them, TMR charges and withdrawals, and escrow, with and without
`Idempotency-Key`, retrying as clients do. Meanwhile, in each round (one per 10 minutes, at least
one): a gunicorn worker is SIGKILLed, a job worker is SIGKILLed (and a new one started), and
PostgreSQL is restarted (`pg_ctl restart -m fast`). Then `sync_gateway_status` settles what the faults
left pending with the providers, the deliveries drain, and `bench.soak_checks` decides; the summary is
printed and the exit status is 1 if any check failed. Every process and the cluster are stopped and
deleted on any exit. With `--pooler` the service reaches its database through PgBouncer in transaction
pooling mode (the job workers' LISTEN connects directly), and the restarts happen behind it.
See docs/reliability.md.
"""
import argparse
import hashlib
import hmac
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import psycopg
import requests

from bench.env import ROOT, django_env
from bench.gateway_double import DEFAULTS, Double, serve
from bench.pgcluster import Cluster, PgBouncer, free_port
from bench.soak_traffic import Client, Op, Traffic, World

WEB_WORKERS, WEB_THREADS, JOB_WORKERS, JOB_CONCURRENCY = 3, 4, 2, 4
RECOVERY_LIMIT_SECONDS = 120
SECONDS_PER_ROUND = 600


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


class Soak:
    def __init__(self, args):
        self.args = args
        self.run = f"soak{args.seed}-{int(time.time())}"
        self.cluster: Cluster | None = None
        self.pooler: PgBouncer | None = None
        self.services: Services | None = None
        self.double_server = None
        self.receiver: Receiver | None = None
        self.logs = Path(tempfile.mkdtemp(prefix="wallet-soak-logs-"))
        self.faults: list[Fault] = []
        self.windows: list[tuple[float, float]] = []  # database restarts: 5xx allowed when a request overlaps
        self.errors: list[str] = []
        self.t0 = time.monotonic()

    def clock(self) -> float:
        return time.monotonic() - self.t0

    def say(self, text: str) -> None:
        print(f"[{self.clock():7.1f}s] {text}", flush=True)

    # Setting up

    def setup(self) -> None:
        # A fast shutdown waits for connections still in their startup handshake (a client that died
        # mid-connect) up to authentication_timeout (60 s by default): kept short, a restart is the
        # short outage it is meant to be.
        self.cluster = Cluster(settings={"authentication_timeout": "5s"}).start()
        self.cluster.create_database("wallet")
        self.database_url = self.cluster.url("wallet")
        # With --pooler the web workers reach the database through PgBouncer in transaction pooling
        # mode (the restart fault then restarts the server behind it); migrations, the job workers
        # (LISTEN needs a session of its own) and the checks connect to the server itself.
        service_url, pooling = self.database_url, "session"
        if self.args.pooler:
            self.pooler = PgBouncer(self.cluster.port).start()
            service_url, pooling = self.pooler.url("wallet"), "transaction"
        self.port = free_port(18400, 18999)
        self.double = Double(service=f"http://127.0.0.1:{self.port}", failure_rate=self.args.failure_rate, seed=self.args.seed)
        self.double_server = serve(self.double)
        double_url = f"http://127.0.0.1:{self.double_server.server_port}"
        self.env = django_env(
            DATABASE_URL=service_url, DATABASE_POOLING=pooling, PAYMENTS_MODE="live",
            RAZORPAY_KEY_ID=DEFAULTS["razorpay_key_id"], RAZORPAY_KEY_SECRET=DEFAULTS["razorpay_key_secret"],
            RAZORPAY_WEBHOOK_SECRET=DEFAULTS["razorpay_webhook_secret"], RAZORPAYX_ACCOUNT_NUMBER="7878780080316316",
            STRIPE_SECRET_KEY=DEFAULTS["stripe_secret_key"], STRIPE_WEBHOOK_SECRET=DEFAULTS["stripe_webhook_secret"],
            RAZORPAY_API_BASE=double_url, STRIPE_API_BASE=double_url,
            # Short enough that what a killed process held is taken up again within the run.
            GATEWAY_TIMEOUT_SECONDS="3", IDEMPOTENCY_LEASE_SECONDS="10", JOBS_HEARTBEAT_SECONDS="1",
            JOBS_STALLED_SECONDS="5", WEBHOOK_RETRY_BASE_SECONDS="1", WEBHOOK_TIMEOUT_SECONDS="3",
            GATEWAY_SYNC_AFTER_MINUTES="2", WEBHOOK_ALLOW_HTTP="1", WEBHOOK_ALLOW_PRIVATE="1",
            JWT_ACCESS_MINUTES="600", MONTHLY_PAYOUT_DAY="0",
        )
        direct_env = {**self.env, "DATABASE_URL": self.database_url, "DATABASE_POOLING": "session"}
        # The job workers' own work goes through the pooler too; their LISTEN connects directly.
        worker_env = {**self.env, "DATABASE_DIRECT_URL": self.database_url} if self.args.pooler else direct_env
        subprocess.run([sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=ROOT, env=direct_env, check=True)
        os.environ.update(direct_env)
        import django

        django.setup()
        from wallets.models import Tenant
        from wallets.services.api_keys import api_key_create

        _, webuddy_key = api_key_create(name="soak webuddy", tenant=Tenant.objects.get(code="webuddy"))
        _, tmr_key = api_key_create(name="soak tmr", tenant=Tenant.objects.get(code="tmr"))
        self.receiver = Receiver(self.args.seed, self.args.receiver_refusals)
        self.services = Services(self.env, self.logs, self.port, self.database_url.replace("postgres://", "postgresql://"),
                                 worker_env=worker_env)
        self.services.start_web()
        for _ in range(JOB_WORKERS):
            self.services.start_worker()
        self.world = World(webuddy_key=webuddy_key, tmr_key=tmr_key, run=self.run)
        self.traffic = Traffic(self.world, self.double)
        self.seed_data()

    def seed_data(self) -> None:
        """Endpoints first (an endpoint gets the events made after it), then a few funded wallets."""
        client = Client(f"http://127.0.0.1:{self.port}", self.clock, random.Random(self.args.seed))
        world, traffic = self.world, self.traffic

        def call(kind, path, body, headers, expect, fingerprint=None):
            op = Op(kind, "POST", path, body, key=f"seed-{world.next_number()}", fingerprint=fingerprint or {})
            world.record(client.call(op, headers=headers))
            if op.status != expect:
                raise RuntimeError(f"seeding {kind} answered {op.status}: {op.response}")
            return op.response

        for tenant, path, auth in (("webuddy", "/v1/webhook-endpoints", traffic.webuddy_auth()),
                                   ("tmr", "/api/v1/wallet/webhook-endpoints", traffic.tmr_key_auth())):
            made = call("seed.endpoint", path, {"url": self.receiver.url(tenant)}, auth, 201)
            self.receiver.secrets[f"/hooks/{tenant}"] = made["secret"]
        for i in range(self.args.users):
            user = call("seed.user", "/v1/users", {"phoneNumber": f"+9198{self.args.seed % 100:02d}{i:06d}", "name": f"Payer {i}"},
                        traffic.webuddy_auth(), 201)
            world.users.append(user["id"])
        for i in range(self.args.experts):
            expert = call("seed.user", "/v1/users", {"phoneNumber": f"+9197{self.args.seed % 100:02d}{i:06d}", "name": f"Expert {i}"},
                          traffic.webuddy_auth(), 201)
            banks = {}
            for j, method in enumerate(["RAZORPAY", "STRIPE"]):
                bank = call("seed.bank", "/v1/experts/bank-details", {
                    "expertId": expert["id"], "bankName": "Soak Bank", "accountNumber": f"{500000000 + 10 * i + j}",
                    "ifscCode": "HDFC0001234", "accountHolderName": f"Expert {i}",
                    "stripeAccountId": f"acct_soak{i}" if method == "STRIPE" else None,
                }, traffic.webuddy_auth(), 201)
                banks[method] = bank["id"]
            world.experts.append({"id": expert["id"], "banks": banks})
        for i in range(self.args.users + 1):  # TMR Land users; the first is the probes' buyer
            name, password = f"{self.run}-{i}", "soak-Pass-9f3k"
            registered = call("seed.user", "/api/v1/auth/register", {"username": name, "password": password}, {}, 201)
            tokens = call("seed.token", "/api/v1/auth/token", {"username": name, "password": password}, {}, 200)
            user = {"id": registered["id"], "token": tokens["access"]}
            if i == 0:
                self.probe_user = user
            else:
                world.tmr_users.append(user)
        rng = random.Random(self.args.seed)
        for user in world.users:  # a recharge the payer pays at once
            amount = world.amounts.draw(rng, ("recharge", user), 20000, 20001)
            recharge = call("recharge", "/v1/wallet/recharge", {"userId": user, "amount": amount, "paymentMethod": "RAZORPAY"},
                            traffic.webuddy_auth(), 201, {"user": user, "amount": str(amount)})
            paid = traffic.control("/_double/razorpay/pay", order_id=recharge["checkout"]["orderId"])
            traffic.deliver(client, paid["webhook"], "payment.captured")
        for user in [*world.tmr_users, self.probe_user]:
            for currency, decimals in (("USD", 2), ("USDC", 6)):
                amount = world.amounts.draw(rng, ("tmr.charge", user["id"], currency), 5000, 5001, decimals)
                call("tmr.charge", "/api/v1/wallet/charge", {"amount": amount, "currency": currency},
                     {"Authorization": f"Bearer {user['token']}"}, 200, {"user": user["id"], "currency": currency, "amount": str(amount)})
        self.seeded_ops = len(world.ops)

    # Faults

    def probe(self, client: Client, rng: random.Random, since: float) -> tuple[float, float]:
        """An order frozen and cancelled for the probe buyer: (seconds after `since` until the API took
        it, until its `escrow.frozen` event reached the receiver)."""
        while True:
            frozen = self.traffic.escrow_freeze(client, rng, buyer=self.probe_user["id"], kind="probe.freeze")
            if frozen.ok:
                break
            if self.clock() - since > RECOVERY_LIMIT_SECONDS:
                raise TimeoutError(f"the probe's freeze kept failing ({frozen.status} {frozen.code})")
            time.sleep(0.2)
        answered = self.clock() - since
        order = frozen.fingerprint["order"]
        wait_for(lambda: f"escrow.frozen:{order}" in self.receiver.orders, RECOVERY_LIMIT_SECONDS, "the probe's event")
        delivered = self.clock() - since
        self.traffic.escrow_close(client, rng, order, self.probe_user["id"], "probe.cancel")
        return answered, delivered

    def fault_web_worker(self, fault: Fault, client: Client, rng: random.Random) -> None:
        victim = rng.choice(self.services.web_workers())
        os.kill(victim, signal.SIGKILL)
        fault.detail = f"gunicorn worker {victim} SIGKILLed"
        wait_for(lambda: victim not in (now := self.services.web_workers()) and len(now) == WEB_WORKERS and self.services.healthy(),
                 RECOVERY_LIMIT_SECONDS, "gunicorn to replace its worker")
        fault.steps["replacement serving"] = self.clock() - fault.t0
        fault.steps["probe answered"], fault.steps["probe event delivered"] = self.probe(client, rng, fault.t0)

    def fault_job_worker(self, fault: Fault, client: Client, rng: random.Random) -> None:
        process = self.services.workers.pop(rng.randrange(len(self.services.workers)))
        alive = self.services.live_workers(seconds=5)
        _signal_group(process, signal.SIGKILL)
        process.wait(10)
        try:  # its worker id: the one whose heartbeats stop
            dead = wait_for(lambda: alive - self.services.live_workers(), 15, "the killed worker's heartbeat to stop")
        except TimeoutError:
            dead = set()
        in_flight = self.services.jobs_in_flight(dead)
        fault.detail = f"job worker {process.pid} SIGKILLed with {len(in_flight)} job(s) running; a new one started"
        self.services.start_worker()
        fault.steps["replacement registered"] = self.clock() - fault.t0
        fault.steps["probe answered"], fault.steps["probe event delivered"] = self.probe(client, rng, fault.t0)
        wait_for(lambda: self.services.jobs_unfinished(in_flight) == 0, RECOVERY_LIMIT_SECONDS, "the dead worker's jobs")
        fault.steps["its jobs run again"] = self.clock() - fault.t0

    def fault_database_restart(self, fault: Fault, client: Client, rng: random.Random) -> None:
        fault.detail = "PostgreSQL restarted (pg_ctl restart -m fast)"
        window = [fault.t0, fault.t0 + RECOVERY_LIMIT_SECONDS]
        self.windows.append(window)
        self.cluster.restart()
        fault.steps["database up"] = self.clock() - fault.t0
        wait_for(self.services.healthy, RECOVERY_LIMIT_SECONDS, "the API to answer after the restart")
        window[1] = self.clock()
        fault.steps["API answering"] = window[1] - fault.t0
        fault.steps["probe answered"], fault.steps["probe event delivered"] = self.probe(client, rng, fault.t0)

    def inject_faults(self, stop: threading.Event, seconds: float) -> None:
        rounds = max(1, int(seconds // SECONDS_PER_ROUND))
        schedule = []
        for n in range(rounds):
            begin = seconds * n / rounds
            for share, name in ((0.25, "web_worker"), (0.5, "job_worker"), (0.75, "database_restart")):
                schedule.append((begin + seconds / rounds * share, name))
        client = Client(f"http://127.0.0.1:{self.port}", self.clock, random.Random(self.args.seed + 999))
        rng = random.Random(self.args.seed + 1000)
        for at, name in schedule:
            if stop.wait(max(0.0, self.traffic_began + at - self.clock())):
                return
            fault = Fault(name.replace("_", " "), self.clock() - self.traffic_began,
                          datetime.now(UTC).strftime("%H:%M:%S"), self.clock())
            self.faults.append(fault)
            self.say(f"fault: {fault.name}")
            try:
                getattr(self, f"fault_{name}")(fault, client, rng)
                fault.recovery = max(fault.steps.values())
                self.say(f"  {fault.detail}; recovered in {fault.recovery:.1f} s")
            except Exception as exc:  # noqa: BLE001 - a fault the service did not recover from fails the soak
                self.errors.append(f"{fault.name}: {type(exc).__name__}: {exc}")
                self.say(f"  {fault.detail}; NOT recovered: {exc}")

    # The run

    def traffic_phase(self) -> None:
        stop = threading.Event()
        self.traffic_began = self.clock()
        threads = []
        for n in range(self.args.threads):
            client = Client(f"http://127.0.0.1:{self.port}", self.clock, random.Random(f"{self.args.seed}-{n}"))
            rng = random.Random(f"{self.args.seed}-traffic-{n}")
            threads.append(threading.Thread(target=self.traffic.loop, args=(client, rng, stop, self.errors), daemon=True))
        faults = threading.Thread(target=self.inject_faults, args=(stop, self.args.seconds), daemon=True)
        for thread in threads:
            thread.start()
        faults.start()
        end = self.traffic_began + self.args.seconds
        while self.clock() < end:
            time.sleep(min(10.0, end - self.clock()))
            if self.clock() < end:
                self.say(f"{len(self.world.ops)} operations so far")
        stop.set()
        for thread in [*threads, faults]:
            thread.join()
        self.traffic_seconds = self.clock() - self.traffic_began
        client = Client(f"http://127.0.0.1:{self.port}", self.clock, random.Random(self.args.seed))
        self.traffic.deliver_due(client, everything=True)  # the providers' late webhooks

    def settle(self) -> None:
        """What the faults left pending with the providers (an answer lost with a killed process or
        the restart) is settled by `sync_gateway_status`, as its periodic job would a few minutes
        later; the providers answer every call by then."""
        self.double.failure_rate = 0
        done = subprocess.run([sys.executable, "manage.py", "sync_gateway_status", "--older-than", "0s"], cwd=ROOT,
                              env=self.env, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            self.errors.append(f"sync_gateway_status exited {done.returncode}: {done.stderr[-500:]}")
        outcomes = Counter(line.split(": ", 1)[1] for line in done.stdout.splitlines() if line.startswith(("recharge ", "payout ")))
        kinds = Counter(line.split(" ", 1)[0] for line in done.stdout.splitlines() if line.startswith(("recharge ", "payout ")))
        self.sync = {"looked_at": dict(kinds), "outcomes": dict(outcomes)}
        self.say(f"sync_gateway_status looked at {dict(kinds)}: {dict(outcomes)}")

    def drain(self) -> None:
        from django.db import connections

        from bench.soak_checks import undelivered_events

        connections.close_all()  # the soak's own connection did not survive the restart
        began = self.clock()
        limit = max(60.0, self.args.seconds / 10)
        while (left := undelivered_events(self.receiver.acknowledged)) and self.clock() - began < limit:
            time.sleep(1)
        self.drain_seconds = self.clock() - began
        self.say(f"deliveries drained in {self.drain_seconds:.1f} s" if not left else f"{left} deliveries still pending")

    def verdict(self) -> tuple[list, dict]:
        from bench import soak_checks

        ops = self.world.ops
        money, lost = soak_checks.providers(self.double, ops)
        checks = [
            soak_checks.reconcile(ROOT, self.env),
            soak_checks.currency_sums(),
            soak_checks.operations(ops),
            money,
            soak_checks.deliveries(self.receiver.acknowledged, self.receiver.counts["bad signatures"]),
            soak_checks.server_errors(ops, [tuple(w) for w in self.windows]),
            soak_checks.clients(ops, self.errors),
        ]
        return checks, lost

    def summary(self, checks: list, lost: dict) -> dict:
        ops = self.world.ops[self.seeded_ops:]
        kinds: dict = defaultdict(Counter)
        attempts = Counter()
        retried = keyed_retried = impatient = duplicates = 0
        for op in ops:
            kinds[op.kind][str(op.status) if op.status is not None else "no answer"] += 1
            for attempt in op.attempts:
                attempts[str(attempt.status) if attempt.status is not None else "no answer"] += 1
            if len(op.attempts) > 1:
                retried += 1
                keyed_retried += op.key is not None
            impatient += op.patience is not None
            duplicates += op.duplicate
        return {
            "seconds": round(self.traffic_seconds, 1), "seed": self.args.seed, "threads": self.args.threads,
            "gateway_failure_rate": self.args.failure_rate, "gunicorn": f"{WEB_WORKERS} workers x {WEB_THREADS} threads",
            "pooler": "pgbouncer (transaction pooling)" if self.args.pooler else None,
            "job_workers": JOB_WORKERS, "operations": len(ops), "http_requests": sum(attempts.values()),
            "by_kind": {kind: dict(sorted(statuses.items())) for kind, statuses in sorted(kinds.items())},
            "http_statuses": dict(sorted(attempts.items())),
            "retried": retried, "retried_with_key": keyed_retried, "impatient": impatient, "sent_twice_at_once": duplicates,
            "with_key": sum(op.key is not None for op in ops),
            "gateway_calls_failed_on_purpose": self.double.failed_on_purpose,
            "receiver": dict(self.receiver.counts),
            "faults": [{k: v for k, v in asdict(fault).items() if k != "t0"} for fault in self.faults],
            "drain_seconds": round(self.drain_seconds, 1), "settled_by_sync": self.sync,
            "checks": [{"check": c.name, "ok": c.ok, "detail": c.detail, "problems": c.problems[:20]} for c in checks],
            "money_lost": {currency: str(amount) for currency, amount in lost.items() if amount},
            "ok": all(c.ok for c in checks),
        }

    def report(self, summary: dict) -> None:
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

    def teardown(self, keep_logs: bool) -> None:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)  # a second SIGTERM must not cut the clean-up short
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        if self.services is not None:
            self.services.stop()
        if self.double_server is not None:
            self.double_server.shutdown()
            self.double_server.server_close()
        if self.receiver is not None:
            self.receiver.close()
        if self.pooler is not None:
            if keep_logs and self.pooler.dir is not None:
                (self.logs / "pgbouncer.log").write_text(self.pooler.log_tail())
            self.pooler.destroy()
        if self.cluster is not None:
            if keep_logs and self.cluster.dir is not None and self.cluster.log.exists():
                shutil.copy(self.cluster.log, self.logs / "postgresql.log")
            self.cluster.destroy()
        if keep_logs:
            print(f"logs kept in {self.logs}")
            for log in sorted(self.logs.glob("*.log")):
                lines = log.read_text(errors="replace").splitlines()
                interesting = [line for line in lines if "Traceback" in line or "ERROR" in line or "Error" in line]
                if interesting:
                    print(f"--- {log.name}: {len(interesting)} error line(s), the last ones:")
                    print("\n".join(line[:300] for line in interesting[-8:]))
        else:
            shutil.rmtree(self.logs, ignore_errors=True)


def _stop_on_signal(signum, frame):
    raise SystemExit(128 + signum)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60, help="seconds of traffic (default 60)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--threads", type=int, default=8, help="client threads (default 8)")
    parser.add_argument("--users", type=int, default=5, help="WeBuddy payers, and TMR Land users (default 5)")
    parser.add_argument("--experts", type=int, default=3)
    parser.add_argument("--failure-rate", type=float, default=0.03, help="share of gateway calls answered 503")
    parser.add_argument("--receiver-refusals", type=float, default=0.03, help="share of deliveries the receiver refuses")
    parser.add_argument("--json", type=Path, help="also write the summary here")
    parser.add_argument("--pooler", action="store_true", help="the web workers through PgBouncer in transaction mode")
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, _stop_on_signal)
    soak = Soak(args)
    ok = False
    try:
        soak.say(f"setting up (seed {args.seed})")
        soak.setup()
        soak.say(f"traffic for {args.seconds:.0f} s on {args.threads} threads")
        soak.traffic_phase()
        soak.settle()
        soak.drain()
        checks, lost = soak.verdict()
        summary = soak.summary(checks, lost)
        soak.report(summary)
        if args.json:
            args.json.write_text(json.dumps(summary, indent=2) + "\n")
        ok = summary["ok"]
        return 0 if ok else 1
    except (KeyboardInterrupt, SystemExit) as exc:
        print(f"soak interrupted ({type(exc).__name__})", flush=True)
        return 130
    finally:
        soak.teardown(keep_logs=not ok)


if __name__ == "__main__":
    sys.exit(main())
