"""Background jobs on a real job engine: procrastinate on PostgreSQL.

Tasks are declared with `@app.task` in each app's `tasks.py` (procrastinate's Django integration
finds them). `defer(task, **kwargs)` queues a job in the caller's open transaction, so a job exists
exactly when the change that causes it commits: no lost and no phantom jobs. Workers run with
`python manage.py jobs_worker` (`worker_run`), as many as needed, on any number of machines (the
quick start runs one beside its web server); periodic tasks are declared with `@app.periodic`.
"""
import asyncio
import logging
import signal

from django.conf import settings
from django.db import transaction
from procrastinate.contrib.django import app  # also re-exported: the tasks' decorator
from procrastinate.contrib.django.django_connector import DjangoConnector
from procrastinate.exceptions import AlreadyEnqueued
from procrastinate.manager import JobManager

logger = logging.getLogger(__name__)


# Jobs are always written through Django's own connection of the calling thread, so they are part of
# its open transaction. (Inside a worker process procrastinate's app talks to the database through
# a pool of its own; a job deferred there by a job would commit on its own, before or without the
# change it belongs to.)
_in_transaction = JobManager(DjangoConnector())


def defer(task, /, *, schedule_in_seconds: float | None = None, queueing_lock: str | None = None, **kwargs) -> bool:
    """Queue `task(**kwargs)` in the caller's transaction. `queueing_lock`: at most one such job
    waiting at a time; False if one already is (nothing queued, the caller's transaction intact)."""
    options = {}
    if schedule_in_seconds:
        options["schedule_in"] = {"seconds": schedule_in_seconds}
    if queueing_lock:
        options["queueing_lock"] = queueing_lock
    job = task.configure(**options).make_new_job(**kwargs)
    if not queueing_lock:
        _in_transaction.defer_job(job)
        return True
    try:
        with transaction.atomic():  # a savepoint: the refusal must not abort the caller's transaction
            _in_transaction.defer_job(job)
    except AlreadyEnqueued:
        return False
    return True


def periodic_schedule() -> dict[str, str]:
    """{task name: cron} of the periodic jobs the workers run (six fields: the last is seconds)."""
    return {periodic.task.name: periodic.cron for periodic in app.periodic_registry.periodic_tasks.values()}


# Workers

WORKER_RESTART_MAX_WAIT_SECONDS = 30


async def worker_run(*, concurrency: int, fetch_job_polling_interval: float) -> None:
    """Run a job worker until SIGINT or SIGTERM (the running jobs then finish first).

    procrastinate's worker stops on its own, and its process exits with status 0, as soon as one of
    its database connections fails (a PostgreSQL restart, a failover): deliveries and periodic jobs
    would stop with it. So it is started again, on a fresh connection pool, 1 s later, waiting twice
    as long after each start that fails (up to 30 s). Jobs it left running are taken up by
    `retry_stalled_jobs` once its heartbeat is stale."""
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stopping.set)
    wait = 0.5
    with app.replace_connector(_worker_connector()) as worker_app:
        while not stopping.is_set():
            began = loop.time()
            reason = await _worker_until_it_stops(worker_app, stopping, concurrency=concurrency,
                                                  fetch_job_polling_interval=fetch_job_polling_interval)
            if stopping.is_set():
                break
            ran_a_while = loop.time() - began > WORKER_RESTART_MAX_WAIT_SECONDS
            wait = 1.0 if ran_a_while else min(2 * wait, WORKER_RESTART_MAX_WAIT_SECONDS)
            logger.error("the job worker stopped (%s); starting it again in %.0f s", reason, wait)
            try:
                await asyncio.wait_for(stopping.wait(), wait)
            except TimeoutError:
                pass


def _worker_connector():
    """The worker's own connection pool. It LISTENs for new jobs, which needs a server session of its
    own: behind PgBouncer in transaction mode it connects to the server itself (`DATABASE_DIRECT_URL`);
    the jobs' own work goes through Django's connection like any request's."""
    direct = settings.DATABASE_DIRECT_URL
    if direct:
        from procrastinate import PsycopgConnector

        return PsycopgConnector(conninfo=direct)
    return app.connector.get_worker_connector()


async def _worker_until_it_stops(worker_app, stopping: asyncio.Event, **options) -> str:
    """One run of procrastinate's worker on a newly opened pool: until it stops on its own (returns
    why), or `stopping` is set (it is stopped gracefully)."""
    try:
        async with worker_app.open_async():
            worker = asyncio.create_task(worker_app.run_worker_async(install_signal_handlers=False, **options))
            stop = asyncio.create_task(stopping.wait())
            await asyncio.wait({worker, stop}, return_when=asyncio.FIRST_COMPLETED)
            stop.cancel()
            worker.cancel()  # a no-op once it has stopped; else it stops taking jobs and lets the running ones finish
            try:
                await worker
            except asyncio.CancelledError:
                return "asked to stop"
            return "a database connection failed"
    except Exception as exc:  # noqa: BLE001 - whatever stopped it (mostly the database unreachable), it starts again
        return f"{type(exc).__name__}: {exc}"
