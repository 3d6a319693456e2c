"""`python manage.py jobs_worker [--concurrency N]`: a job worker (the Procfile's `worker`), which
outlives a restart of its database (`wallets.jobs.worker_run`)."""
import asyncio

from django.core.management.base import BaseCommand

from wallets import jobs


class Command(BaseCommand):
    help = "Run a job worker until SIGTERM; it is started again whenever its database connection fails."

    def add_arguments(self, parser):
        parser.add_argument("--concurrency", type=int, default=8, help="jobs run at the same time (default 8)")
        parser.add_argument("--fetch-job-polling-interval", type=float, default=5.0,
                            help="seconds between looks for new jobs when no notification came (default 5)")

    def handle(self, *args, concurrency, fetch_job_polling_interval, **options):
        asyncio.run(jobs.worker_run(concurrency=concurrency, fetch_job_polling_interval=fetch_job_polling_interval))
