"""What an operator sees: log lines (JSON objects in production, each with the request id) and an
access line per request. (/metrics and who may read it: security.py's METRICS_ALLOWED_IPS.)"""
from config.settings import env
from config.settings.base import DEBUG

LOG_FORMAT = env.choice("LOG_FORMAT", "plain" if DEBUG else "json", ("plain", "json"))
ACCESS_LOG = env.boolean("ACCESS_LOG", not DEBUG)
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": "wallets.logs.RequestIdFilter"}},
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"},
        "json": {"()": "wallets.logs.JsonLines"},
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": LOG_FORMAT, "filters": ["request_id"]}},
    "root": {"handlers": ["console"], "level": env.string("LOG_LEVEL", "INFO")},
    # The job engine says at every start which tasks it found: only its warnings are worth a line.
    "loggers": {"procrastinate": {"level": env.string("JOBS_LOG_LEVEL", "WARNING")}},
}
