"""The job engine: a job exists exactly when the transaction that deferred it commits; the periodic
jobs are declared; the monthly payouts run on the configured day for the month before."""
from datetime import datetime, timezone

import pytest
from django.db import connection, transaction

from payouts.tasks import previous_month
from wallets import jobs
from wallets.tasks import purge_idempotency_keys

pytestmark = pytest.mark.django_db


def queued(task_name: str) -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM procrastinate_jobs WHERE task_name = %s AND status = 'todo'", [task_name])
        return cursor.fetchone()[0]


def test_a_job_deferred_in_a_transaction_that_rolls_back_does_not_exist():
    before = queued("wallets.purge_idempotency_keys")

    class Boom(Exception):
        pass

    with pytest.raises(Boom), transaction.atomic():
        jobs.defer(purge_idempotency_keys)
        assert queued("wallets.purge_idempotency_keys") == before + 1  # in the transaction, on its connection
        raise Boom
    assert queued("wallets.purge_idempotency_keys") == before


def test_a_queueing_lock_refuses_a_second_waiting_job_without_breaking_the_transaction():
    with transaction.atomic():
        assert jobs.defer(purge_idempotency_keys, queueing_lock="only-one") is True
        assert jobs.defer(purge_idempotency_keys, queueing_lock="only-one") is False
        assert queued("wallets.purge_idempotency_keys") == 1  # the transaction goes on


def test_the_periodic_jobs():
    crons = jobs.periodic_schedule()
    assert crons == {
        "wallets.dispatch_events": "* * * * * */5",
        "wallets.deliveries_due": "* * * * *",
        "wallets.retry_stalled_jobs": "* * * * * */10",
        "wallets.purge_idempotency_keys": "7 * * * *",
        "wallets.purge_events": "17 3 * * *",
        "wallets.entry_partitions_ahead": "41 4 * * *",
        "payouts.sync_gateway_status": "*/5 * * * *",
        "payouts.monthly_payouts": "0 2 1 * *",
        "sessions.expire_sessions": "*/10 * * * *",
    }


@pytest.mark.parametrize(("now", "month"), [
    (datetime(2026, 1, 1, 2, tzinfo=timezone.utc), "2025-12"),
    (datetime(2026, 3, 1, 2, tzinfo=timezone.utc), "2026-02"),
    (datetime(2026, 11, 15, tzinfo=timezone.utc), "2026-10"),
])
def test_monthly_payouts_are_for_the_month_before(now, month):
    assert previous_month(now) == month


def test_a_monthly_payout_job_fails_on_an_unexpected_error_so_it_is_retried(monkeypatch):
    """The command reports the error on the expert's row and goes on; the job raises it, and
    procrastinate retries it (running it again resumes the same payout)."""
    from decimal import Decimal

    from payouts import services as payout_services
    from payouts.runs import monthly_run
    from payouts.tasks import monthly_payout
    from tests.events.test_workers import experts_with_earnings
    from wallets.models import Tenant

    [expert] = experts_with_earnings(1, Decimal(50))

    def broken(**kwargs):
        raise RuntimeError("the database went away")

    monkeypatch.setattr(payout_services, "payout_request_monthly", broken)
    month = previous_month()
    assert [row["result"] for row in monthly_run(month=month)] == ["error"]
    with pytest.raises(RuntimeError):
        monthly_payout(tenant_id=Tenant.objects.get(code="webuddy").pk, expert_id=str(expert.pk), month=month)
    assert monthly_payout.retry_strategy.max_attempts == 8


def test_a_workers_own_pool_connects_to_the_server_itself_when_a_direct_url_is_set(settings):
    """Behind PgBouncer in transaction mode a worker's LISTEN needs a session of its own."""
    from procrastinate import PsycopgConnector

    settings.DATABASE_DIRECT_URL = ""
    assert jobs._worker_connector()._pool_args["kwargs"]["port"] == connection.settings_dict["PORT"]

    settings.DATABASE_DIRECT_URL = "postgres://postgres@127.0.0.1:5999/wallet"
    direct = jobs._worker_connector()
    assert isinstance(direct, PsycopgConnector) and direct._pool_args == {"conninfo": settings.DATABASE_DIRECT_URL}
