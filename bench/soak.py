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
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path


from bench.env import ROOT, django_env
from bench.gateway_double import DEFAULTS, Double, serve
from bench.pgcluster import Cluster, PgBouncer, free_port
from bench.soak_services import (
    JOB_WORKERS,
    WEB_THREADS,
    WEB_WORKERS,
    Fault,
    Receiver,
    Services,
    _signal_group,
    print_report,
    wait_for,
)
from bench.soak_client import Client, Op
from bench.soak_traffic import Traffic, World

RECOVERY_LIMIT_SECONDS = 120
SECONDS_PER_ROUND = 600


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
        print_report(summary)

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
