"""Background work: the job workers (procrastinate), the periodic jobs' thresholds, and the events
for client backends (how long they are kept, how their deliveries are made and retried)."""
from django.core.exceptions import ImproperlyConfigured

from config.settings import env

PROCRASTINATE_AUTODISCOVER_MODULE_NAME = "tasks"
# Workers say they are alive this often; a job of one silent for JOBS_STALLED_SECONDS runs again elsewhere.
JOBS_HEARTBEAT_SECONDS = env.integer("JOBS_HEARTBEAT_SECONDS", 10)
JOBS_STALLED_SECONDS = env.integer("JOBS_STALLED_SECONDS", 30)
PROCRASTINATE_WORKER_DEFAULTS = {
    "update_heartbeat_interval": JOBS_HEARTBEAT_SECONDS,
    "stalled_worker_timeout": JOBS_STALLED_SECONDS,
}
# Monthly payouts are run for the month before on this day of the month (0: not scheduled).
MONTHLY_PAYOUT_DAY = env.integer("MONTHLY_PAYOUT_DAY", 1)
if not 0 <= MONTHLY_PAYOUT_DAY <= 28:
    raise ImproperlyConfigured("MONTHLY_PAYOUT_DAY must be 1 to 28 (a day every month has), or 0 for never.")
# The periodic jobs: gateway sync looks at what is stuck this long; sessions open this long are cancelled.
GATEWAY_SYNC_AFTER_MINUTES = env.integer("GATEWAY_SYNC_AFTER_MINUTES", 15)
SESSION_EXPIRE_HOURS = env.integer("SESSION_EXPIRE_HOURS", 6)
# A live recharge nobody paid this long is failed by the sync (a Stripe PaymentIntent cancelled first).
RECHARGE_EXPIRE_HOURS = env.integer("RECHARGE_EXPIRE_HOURS", 24)

# Events for client backends: how long they are kept for the catch-up API, and their deliveries.
EVENT_RETENTION_DAYS = env.integer("EVENT_RETENTION_DAYS", 30)
WEBHOOK_TIMEOUT_SECONDS = env.integer("WEBHOOK_TIMEOUT_SECONDS", 5)
WEBHOOK_RETRY_BASE_SECONDS = env.integer("WEBHOOK_RETRY_BASE_SECONDS", 30)
WEBHOOK_RETRY_HOURS = env.integer("WEBHOOK_RETRY_HOURS", 72)
# Receivers must be https on public addresses, unless these say otherwise (the quick start and tests).
WEBHOOK_ALLOW_HTTP = env.boolean("WEBHOOK_ALLOW_HTTP", False)
WEBHOOK_ALLOW_PRIVATE = env.boolean("WEBHOOK_ALLOW_PRIVATE", False)
