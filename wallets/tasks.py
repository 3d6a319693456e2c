"""Jobs of the core: fanning events out and delivering them, purges, the ledger's partitions made
ahead, and picking up the jobs of workers that died. Found by procrastinate's Django integration
(module name `tasks`).

Every job here is safe to run twice (a worker killed mid-job has it run again elsewhere): its
effect happens once."""
import logging

from django.conf import settings
from django.db import Error as DatabaseFailure
from procrastinate import RetryStrategy

from wallets.jobs import app

logger = logging.getLogger(__name__)


@app.periodic(cron="* * * * * */5", periodic_id="every-5s")
@app.task(name="wallets.dispatch_events", queue="events", pass_context=False)
def dispatch_events(timestamp: int | None = None) -> int:
    """Number the events that are ready and make their deliveries (also nudged after each commit)."""
    from wallets.events import events_dispatch

    total = 0
    while made := events_dispatch():
        total += made
    return total


# An attempt the database interrupted (a restart, a lost connection) runs again in 2, 4, 8, ... seconds,
# not minutes later by the sweep of `deliveries_due`. (What the receiver does is the attempt's outcome.)
@app.task(name="wallets.attempt_delivery", queue="deliveries",
          retry=RetryStrategy(max_attempts=5, exponential_wait=2, retry_exceptions={DatabaseFailure}))
def attempt_delivery(delivery_id: int) -> str:
    from wallets.events import delivery_attempt

    return delivery_attempt(delivery_id=delivery_id)


@app.periodic(cron="* * * * *")
@app.task(name="wallets.deliveries_due", queue="events")
def deliveries_due(timestamp: int | None = None) -> int:
    """Every minute: deliveries that are due with no job waiting (a job that failed) get one again."""
    from wallets.events import deliveries_due as requeue

    return requeue()


# A gateway the job could not reach: tried again 4, 8, 16, ... seconds later; the sync catches the rest.
@app.task(name="wallets.recharge_capture", queue="gateways",
          retry=RetryStrategy(max_attempts=6, exponential_wait=2))
def recharge_capture(recharge_id: str) -> str:
    """A Razorpay payment was authorized (its webhook): the recharge's payments settled with the
    provider, at most one captured (wallets.services.recharges.recharge_capture)."""
    from wallets.services.recharges import recharge_capture as capture

    return capture(recharge_id=recharge_id)


@app.periodic(cron="7 * * * *")
@app.task(name="wallets.purge_idempotency_keys", queue="maintenance")
def purge_idempotency_keys(timestamp: int | None = None) -> int:
    """Hourly: finished idempotency records past their 24 hours (as `manage.py purge_idempotency_keys`)."""
    from wallets.api.idempotency import purge_expired

    return purge_expired()


@app.periodic(cron="17 3 * * *")
@app.task(name="wallets.purge_events", queue="maintenance")
def purge_events(timestamp: int | None = None) -> int:
    """Daily: events past EVENT_RETENTION_DAYS, with their deliveries."""
    from wallets.events import events_purge

    return events_purge()


@app.periodic(cron="41 4 * * *")
@app.task(name="wallets.entry_partitions_ahead", queue="maintenance")
def entry_partitions_ahead(timestamp: int | None = None) -> list[str]:
    """Daily: the ledger's monthly partitions of entries up to three months ahead (those missing)."""
    from wallets.services.partitions import entry_partitions_ensure

    return entry_partitions_ensure()


@app.periodic(cron="* * * * * */10", periodic_id="every-10s")
@app.task(name="wallets.retry_stalled_jobs", queue="maintenance", pass_context=True)
async def retry_stalled_jobs(context, timestamp: int | None = None) -> int:
    """Jobs of a worker that stopped sending heartbeats (killed, its machine gone) run again on
    another one."""
    stalled = await context.app.job_manager.get_stalled_jobs(seconds_since_heartbeat=settings.JOBS_STALLED_SECONDS)
    for job in stalled:
        logger.warning("job %s (%s) of a stalled worker is retried", job.id, job.task_name)
        await context.app.job_manager.retry_job(job)
    return len(stalled)
