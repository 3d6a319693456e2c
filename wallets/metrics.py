"""Prometheus metrics, served at `/metrics` to the addresses in METRICS_ALLOWED_IPS.

Counters and histograms live in each process. Under gunicorn (several worker processes) and with job
workers on the same machine, set `PROMETHEUS_MULTIPROC_DIR` to one empty directory for all of them:
each process writes its values there and `/metrics` adds them up (prometheus-client's multiprocess
mode; config/gunicorn.py clears it at start and forgets dead workers). The job queue's depth and age
are read from the database at each scrape, so they are the same whichever process answers.
"""
import os
import time
from contextlib import contextmanager

from django.db import DatabaseError, connection, transaction
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client import REGISTRY as PROCESS_REGISTRY
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)

POSTINGS = Counter("wallet_postings", "Journal transactions committed, by kind.", ["kind"])
REFUSALS = Counter("wallet_refusals", "API requests answered with an error, by error code.", ["code"])
REQUESTS = Histogram(
    "wallet_request_duration_seconds", "HTTP requests by endpoint (its URL pattern), method and status class.",
    ["endpoint", "method", "status"], buckets=LATENCY_BUCKETS,
)
GATEWAY_CALLS = Histogram(
    "wallet_gateway_call_duration_seconds", "Calls to payment gateways, by provider, operation and outcome.",
    ["provider", "operation", "outcome"], buckets=LATENCY_BUCKETS,
)
GATEWAY_ERRORS = Counter(
    "wallet_gateway_call_errors", "Gateway calls that failed: unavailable (retryable) or refused.",
    ["provider", "operation", "error"],
)
DELIVERIES = Counter(
    "wallet_webhook_deliveries", "Attempts to deliver events to client endpoints, by result "
    "(delivered, failed: will be retried, gave_up: the endpoint is disabled).", ["result"],
)


def posting_counted(posted, kind: str) -> None:
    """The ledger's listener: count a posting once its transaction commits (a rolled-back one never
    happened)."""
    transaction.on_commit(lambda: POSTINGS.labels(kind).inc())


@contextmanager
def gateway_call(provider: str, operation: str):
    """Time a gateway call; the caller raises GatewayUnavailable or GatewayRefused on failure."""
    from wallets.gateways import GatewayRefused, GatewayUnavailable

    began = time.perf_counter()
    outcome = "ok"
    try:
        yield
    except GatewayUnavailable:
        outcome = "unavailable"
        raise
    except GatewayRefused:
        outcome = "refused"
        raise
    except Exception:
        outcome = "error"
        raise
    finally:
        GATEWAY_CALLS.labels(provider, operation, outcome).observe(time.perf_counter() - began)
        if outcome != "ok":
            GATEWAY_ERRORS.labels(provider, operation, outcome).inc()


_JOBS_SQL = """
SELECT j.queue_name,
       count(*) FILTER (WHERE j.status = 'todo' AND (j.scheduled_at IS NULL OR j.scheduled_at <= now())),
       count(*) FILTER (WHERE j.status = 'todo' AND j.scheduled_at > now()),
       count(*) FILTER (WHERE j.status = 'doing'),
       coalesce(max(extract(epoch FROM now() - greatest(j.scheduled_at, e.at)))
                FILTER (WHERE j.status = 'todo' AND (j.scheduled_at IS NULL OR j.scheduled_at <= now())), 0)
  FROM procrastinate_jobs j
  LEFT JOIN procrastinate_events e ON e.job_id = j.id AND e.type = 'deferred'
 WHERE j.status IN ('todo', 'doing')
 GROUP BY j.queue_name
"""


class JobQueueCollector:
    """Depth of the job queue (ready, scheduled for later, running) and the age of its oldest ready
    job, per queue, read from procrastinate's tables at each scrape."""

    def collect(self):
        depth = GaugeMetricFamily("wallet_jobs", "Jobs by queue and state (ready, scheduled, running).",
                                  labels=["queue", "state"])
        age = GaugeMetricFamily("wallet_jobs_oldest_ready_age_seconds",
                                "How long the oldest job that could run has waited, per queue.", labels=["queue"])
        try:
            with connection.cursor() as cursor:
                cursor.execute(_JOBS_SQL)
                rows = cursor.fetchall()
        except DatabaseError:
            rows = []
        for queue, ready, scheduled, running, oldest in rows:
            depth.add_metric([queue, "ready"], ready)
            depth.add_metric([queue, "scheduled"], scheduled)
            depth.add_metric([queue, "running"], running)
            age.add_metric([queue], float(oldest))
        yield depth
        yield age


def exposition() -> tuple[bytes, str]:
    """The metrics text: this process's (or every process's, in multiprocess mode) and the job queue's."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        MultiProcessCollector(registry)
        body = generate_latest(registry)
    else:
        body = generate_latest(PROCESS_REGISTRY)
    jobs = CollectorRegistry()
    jobs.register(JobQueueCollector())
    return body + generate_latest(jobs), CONTENT_TYPE_LATEST
