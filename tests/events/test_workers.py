"""Real job workers (`manage.py jobs_worker` processes) on the test database: deliveries retried on
their schedule, a hanging receiver that never slows the API, an attempt the database interrupted run
again at once, a worker that outlives its database going away, a worker killed mid-payout whose job
runs again with its effect once, and a month of payouts for 1,000 experts fanned out to two workers
with each expert paid exactly once."""
from datetime import timedelta
from decimal import Decimal

import psycopg
from django.db import connection
from django.utils import timezone

from bench.gateway_double import DEFAULTS, Double, serve
from payouts.models import Payout
from payouts.runs import payouts_sync
from payouts.tasks import monthly_payouts_fan_out, previous_month
from tests.events.conftest import wait_until
from tests.events.helpers import events_of
from tests.history import backdated_deposit
from tests.invariants import assert_ledger_invariants
from tests.webuddy.helpers import create_user, funded_user
from tests.webuddy.test_bank_details import add as add_bank
from wallets.models import Account, Delivery, DeliveryAttempt

D = Decimal


def job_counts(task_name: str) -> dict:
    with connection.cursor() as cursor:
        cursor.execute("SELECT status, count(*) FROM procrastinate_jobs WHERE task_name = %s GROUP BY status", [task_name])
        return dict(cursor.fetchall())


def test_a_worker_delivers_and_retries_on_schedule(webuddy_client, receiver, workers):
    workers.start()
    webuddy_client.post("/v1/webhook-endpoints", {"url": receiver.url}, format="json")
    receiver.plan = [500]
    funded_user(webuddy_client, 10)

    receiver.wait_for(2)
    delivery = wait_until(lambda: Delivery.objects.filter(status="delivered").first(), 60, "the delivery to end delivered")
    assert delivery.attempts == 2
    first, second = receiver.received
    assert first["headers"]["Wallet-Event-Id"] == second["headers"]["Wallet-Event-Id"]
    assert [a.status_code for a in DeliveryAttempt.objects.filter(delivery=delivery).order_by("attempted_at")] == [500, 200]


def test_a_hanging_receiver_times_out_and_never_holds_up_the_api(webuddy_client, receiver, workers):
    workers.start(WEBHOOK_TIMEOUT_SECONDS=2)
    webuddy_client.post("/v1/webhook-endpoints", {"url": receiver.url}, format="json")
    receiver.plan = ["hang"]
    user, expert = funded_user(webuddy_client, 500), create_user(webuddy_client)
    receiver.wait_for(1)  # the first delivery is now stuck at the receiver

    # While it hangs, money requests that write events answer as always.
    for _ in range(5):
        started = webuddy_client.post("/v1/sessions/start", {"userId": user["id"], "expertId": expert["id"], "sessionFee": 10},
                                      format="json")
        assert started.status_code == 201
        ended = webuddy_client.post("/v1/sessions/end", {"sessionId": started.json()["id"], "expertId": expert["id"],
                                                         "actualFee": 10}, format="json")
        assert ended.status_code == 200
    assert not receiver.released.is_set()  # all of that happened while the receiver still held the first request

    timed_out = wait_until(lambda: DeliveryAttempt.objects.filter(error__icontains="timeout").first(), 60, "a timed-out attempt")
    wait_until(lambda: Delivery.objects.filter(pk=timed_out.delivery_id, status="delivered").exists(), 60,
               "the timed-out delivery to be retried and delivered")
    wait_until(lambda: Delivery.objects.filter(status="delivered").count() == 1 + 2 * 5, 60,
               "every event delivered (the recharge that hung, 5 starts, 5 ends)")


def test_a_delivery_attempt_the_database_interrupted_runs_again_within_seconds(webuddy_client, receiver, workers):
    workers.start(WEBHOOK_TIMEOUT_SECONDS=30)
    webuddy_client.post("/v1/webhook-endpoints", {"url": receiver.url}, format="json")
    receiver.plan = ["hang"]
    funded_user(webuddy_client, 10)
    receiver.wait_for(1)  # the attempt is at the receiver; its job's database connection waits, idle

    with connection.cursor() as cursor:  # that connection is cut, as by a database restart
        cursor.execute("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = current_database() "
                       "AND pid <> pg_backend_pid() AND state = 'idle' AND query LIKE %s", ['SELECT "wallets_delivery"."id", %'])
        assert cursor.fetchone()[0] >= 1
    receiver.release()  # the receiver answers 200, and the job cannot record it

    # Its job is retried at once (the sweep for deliveries without a job would wait two minutes).
    wait_until(lambda: Delivery.objects.filter(status="delivered").exists(), 30, "the delivery to be attempted again")
    first, second = receiver.received
    assert first["headers"]["Wallet-Event-Id"] == second["headers"]["Wallet-Event-Id"]
    assert job_counts("wallets.attempt_delivery") == {"succeeded": 1}


def maintenance_connection() -> psycopg.Connection:
    """A connection to the server's `postgres` database, beside the test database."""
    s = connection.settings_dict
    return psycopg.connect(host=s.get("HOST") or "127.0.0.1", port=s.get("PORT") or 5432, user=s.get("USER") or "postgres",
                           password=s.get("PASSWORD") or None, dbname="postgres", autocommit=True)


def test_a_worker_outlives_its_database_going_away(webuddy_client, receiver, workers):
    # As in a PostgreSQL restart: every connection to the database cut, and new ones refused a moment.
    # procrastinate's own worker stops for good then (and its process exits 0); jobs_worker starts it again.
    worker = workers.start()
    log = workers.logs[-1]
    webuddy_client.post("/v1/webhook-endpoints", {"url": receiver.url}, format="json")
    funded_user(webuddy_client, 10)
    receiver.wait_for(1)

    database = connection.settings_dict["NAME"]
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        ours = cursor.fetchone()[0]
    with maintenance_connection() as server:  # a database cannot refuse connections to itself from inside
        server.execute(f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS false')
        try:
            server.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND pid <> %s",
                           [database, ours])
            wait_until(lambda: worker.poll() is not None or "stopping worker" in log.read_text(errors="replace"), 60,
                       "the worker to lose its database")
        finally:
            server.execute(f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS true')

    funded_user(webuddy_client, 20)  # an event written after the outage is delivered too
    receiver.wait_for(2)
    assert worker.poll() is None
    assert "starting it again" in log.read_text(errors="replace")


def live_env(double_url: str) -> dict:
    return {
        "PAYMENTS_MODE": "live",
        "RAZORPAY_KEY_ID": DEFAULTS["razorpay_key_id"], "RAZORPAY_KEY_SECRET": DEFAULTS["razorpay_key_secret"],
        "RAZORPAY_WEBHOOK_SECRET": DEFAULTS["razorpay_webhook_secret"], "RAZORPAYX_ACCOUNT_NUMBER": "7878780080316316",
        "STRIPE_SECRET_KEY": DEFAULTS["stripe_secret_key"], "STRIPE_WEBHOOK_SECRET": DEFAULTS["stripe_webhook_secret"],
        "RAZORPAY_API_BASE": double_url, "STRIPE_API_BASE": double_url,
        "IDEMPOTENCY_LEASE_SECONDS": "2", "GATEWAY_TIMEOUT_SECONDS": "60",
    }


def test_a_worker_killed_mid_payout_is_replaced_and_the_expert_is_paid_once(webuddy_client, workers, settings):
    double = Double(service="http://127.0.0.1:9")
    server = serve(double)
    env = live_env(f"http://127.0.0.1:{server.server_port}")
    try:
        expert = create_user(webuddy_client)
        wallet = Account.objects.get(user_id=expert["id"])
        backdated_deposit(wallet, D(500), timezone.now().replace(day=1) - timedelta(days=3))
        assert add_bank(webuddy_client, expert["id"]).status_code == 201
        month = previous_month()

        double.payouts_open.clear()  # the bank will not answer
        assert monthly_payouts_fan_out(month=month) == 1
        doomed = workers.start(**env)
        wait_until(lambda: double.payouts_waiting >= 1, 60, "the worker to be inside the bank call")
        payout = Payout.objects.get(expert_id=expert["id"], month=month)
        assert payout.status == "pending" and payout.submitted_at is not None

        workers.kill(doomed)  # mid-job: the payout was asked for, the answer never heard
        double.payouts_open.set()  # the bank makes the payout anyway
        wait_until(lambda: len(double.payouts) == 1, 30, "the bank to make the payout")

        workers.start(**env)  # a new worker finds the dead one's job and runs it again
        wait_until(lambda: job_counts("payouts.monthly_payout") == {"succeeded": 1}, 90, "the job to run again and succeed")

        payout.refresh_from_db()
        [made] = double.payouts.values()
        assert made["reference_id"] == str(payout.id)
        assert (payout.status, payout.provider_payout_id) == ("processing", made["id"])
        assert Payout.objects.filter(expert_id=expert["id"]).count() == 1

        # The bank settles; the sync (also a periodic job) applies it once.
        made["status"] = "processed"
        for name, value in env.items():
            setattr(settings, name, int(value) if value.isdigit() else value)
        payouts_sync(older_than=timedelta(0))
        payouts_sync(older_than=timedelta(0))
        payout.refresh_from_db()
        wallet.refresh_from_db()
        assert payout.status == "paid" and payout.amount == D(500)
        assert (wallet.balance, wallet.held_balance) == (D(0), D(0))
        assert [e.type for e in events_of() if e.type.startswith("payout.")] == ["payout.processing", "payout.paid"]
        assert_ledger_invariants()
    finally:
        double.payouts_open.set()
        server.shutdown()
        server.server_close()


def experts_with_earnings(count: int, amount: D) -> list:
    """`count` WeBuddy experts, each with `amount` earned last month and a primary bank account."""
    from experts.models import BankDetail
    from wallets.crypto import encrypt, keyed_hash
    from wallets.models import Tenant, User

    tenant = Tenant.objects.get(code="webuddy")
    users = User.objects.bulk_create([
        User(username=f"expert-{i}", tenant=tenant, name=f"Expert {i}", phone_number=f"+9197{i:08d}") for i in range(count)
    ])
    wallets = Account.objects.bulk_create([Account(tenant=tenant, user=user, currency="INR") for user in users])
    last_month = timezone.now().replace(day=1) - timedelta(days=2)
    for wallet in wallets:
        backdated_deposit(wallet, amount, last_month)
    BankDetail.objects.bulk_create([
        BankDetail(expert=user, bank_name="Test Bank", account_number_encrypted=encrypt(f"{100000000 + i}"),
                   account_number_hash=keyed_hash(f"{100000000 + i}", purpose="bank-account"), account_last4=f"{i:04d}"[-4:],
                   ifsc_code="TEST0000001", account_holder_name=user.name, is_primary=True)
        for i, user in enumerate(users)
    ])
    return users


def test_monthly_payouts_for_1000_experts_as_jobs_on_two_workers_pay_each_expert_once(workers):
    experts = experts_with_earnings(1000, D("123.45"))
    month = previous_month()

    assert monthly_payouts_fan_out(month=month) == 1000
    assert monthly_payouts_fan_out(month=month) == 0  # each expert's job is already waiting
    workers.start(concurrency=4)
    workers.start(concurrency=4)
    wait_until(lambda: job_counts("payouts.monthly_payout") == {"succeeded": 1000}, 300, "1,000 payout jobs to succeed")

    payouts = Payout.objects.filter(month=month)
    assert payouts.count() == 1000
    assert set(payouts.values_list("status", flat=True)) == {"paid"}
    assert payouts.values("expert_id").distinct().count() == 1000
    assert set(Account.objects.filter(user__in=experts).values_list("balance", "held_balance")) == {(D(0), D(0))}
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(DISTINCT worker_id) FROM procrastinate_jobs WHERE task_name = 'payouts.monthly_payout'")
        assert cursor.fetchone()[0] == 2  # both workers took a share

    # The month's run again (the scheduler firing twice, an operator re-running it): nobody is paid twice.
    assert monthly_payouts_fan_out(month=month) == 1000
    wait_until(lambda: job_counts("payouts.monthly_payout") == {"succeeded": 2000}, 300, "the second run's jobs")
    assert Payout.objects.filter(month=month).count() == 1000
    assert_ledger_invariants()
