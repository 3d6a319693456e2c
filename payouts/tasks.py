"""Jobs of payouts: settling what the providers left pending, and the month's payouts fanned out
as one job per expert (any number of workers take them; each expert is paid once)."""
import logging
from datetime import timedelta

from django.conf import settings
from django.utils import timezone
from procrastinate import RetryStrategy

from wallets.jobs import app, defer

logger = logging.getLogger(__name__)


@app.periodic(cron="*/5 * * * *")
@app.task(name="payouts.sync_gateway_status", queue="gateways")
def sync_gateway_status(timestamp: int | None = None) -> dict:
    """Every 5 minutes, as `manage.py sync_gateway_status`: recharges and payouts stuck for
    GATEWAY_SYNC_AFTER_MINUTES, settled with their provider as its webhook would have."""
    from payouts.runs import payouts_sync
    from wallets.services.recharges import recharges_sync

    age = timedelta(minutes=settings.GATEWAY_SYNC_AFTER_MINUTES)
    return {"recharges": len(recharges_sync(older_than=age)), "payouts": len(payouts_sync(older_than=age))}


def previous_month(now=None) -> str:
    first = (now or timezone.now()).date().replace(day=1)
    last = first - timedelta(days=1)
    return f"{last.year:04d}-{last.month:02d}"


def monthly_payouts_fan_out(*, month: str) -> int:
    """One `payouts.monthly_payout` job per expert of every WeBuddy-dialect tenant, deferred in one
    transaction; a second fan-out for the month queues nothing an earlier one still has waiting,
    and an expert already paid is `already_paid` when their job runs."""
    from django.db import transaction

    from payouts.runs import monthly_experts

    deferred = 0
    with transaction.atomic():
        for tenant, expert_ids in monthly_experts():
            for expert_id in expert_ids:
                deferred += defer(monthly_payout, queueing_lock=f"monthly:{expert_id}:{month}",
                                  tenant_id=str(tenant.pk), expert_id=str(expert_id), month=month)
    return deferred


if settings.MONTHLY_PAYOUT_DAY:

    @app.periodic(cron=f"0 2 {settings.MONTHLY_PAYOUT_DAY} * *")
    @app.task(name="payouts.monthly_payouts", queue="payouts")
    def monthly_payouts(timestamp: int | None = None) -> int:
        """On MONTHLY_PAYOUT_DAY: last month's payouts, one job per expert."""
        return monthly_payouts_fan_out(month=previous_month())


@app.task(name="payouts.monthly_payout", queue="payouts",
          retry=RetryStrategy(max_attempts=8, exponential_wait=30))
def monthly_payout(tenant_id: str, expert_id: str, month: str) -> dict:
    """One expert's monthly payout (`payouts.runs.monthly_pay_expert`, as the command runs it).
    An unexpected error (the database, a bug) fails the job, which is retried with backoff: running
    it again resumes the same payout."""
    from payouts.runs import monthly_pay_expert
    from wallets.models import Tenant

    row = monthly_pay_expert(tenant=Tenant.objects.get(pk=tenant_id), expert_id=expert_id, month=month, raise_errors=True)
    logger.info("monthly payout %s of expert %s: %s", month, expert_id, row["result"])
    return {key: str(value) if value is not None else None for key, value in row.items()}
