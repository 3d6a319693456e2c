"""Settings for the wallet service, read from environment variables only (SPEC §8).

`DATABASE_URL` names the PostgreSQL server; without it (DEBUG only) the quick start's own server in
`var/postgres` (config/localdb.py). With `DEBUG` off the service refuses to start without
`DATABASE_URL`, `SECRET_KEY` and `FIELD_ENCRYPTION_KEY`.
"""
import ipaddress
import os
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_int(name: str, default: int) -> int:
    """An integer setting, written with the digits 0-9 (Python's int() also reads other scripts')."""
    value = os.environ.get(name, "").strip()
    if not value:
        return default
    if not (value.isascii() and value.lstrip("-").isdigit()):
        raise ImproperlyConfigured(f"{name} must be an integer written with the digits 0-9, not {value!r}.")
    return int(value)


def env_decimal(name: str, default: str) -> Decimal:
    """A decimal setting (`10`, `2.5`), written with the digits 0-9."""
    value = os.environ.get(name, "").strip() or default
    whole, _, fraction = value.partition(".")
    if not (value.isascii() and whole.isdigit() and (fraction == "" or fraction.isdigit())):
        raise ImproperlyConfigured(f"{name} must be a number written with the digits 0-9, not {value!r}.")
    return Decimal(value)


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


DEBUG = env_bool("DEBUG", False)

SECRET_KEY = os.environ.get("SECRET_KEY", "")
FIELD_ENCRYPTION_KEY = os.environ.get("FIELD_ENCRYPTION_KEY", "")
if not DEBUG:
    missing = [name for name in ("SECRET_KEY", "FIELD_ENCRYPTION_KEY") if not os.environ.get(name)]
    if missing:
        raise ImproperlyConfigured(
            f"{', '.join(missing)} must be set when DEBUG is off; refusing to start."
        )
else:
    # Local development only: fixed, clearly-marked throwaway keys.
    SECRET_KEY = SECRET_KEY or "dev-insecure-secret-key-do-not-use-in-production"
    FIELD_ENCRYPTION_KEY = FIELD_ENCRYPTION_KEY or "ZGV2LWluc2VjdXJlLWZpZWxkLWtleS0zMmJ5dGVzISE="

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "127.0.0.1,localhost,testserver" if DEBUG else "")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "wallets.admin_config.BackOfficeAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "wallets",
    "sessions_app",
    "payouts",
    "experts",
    "kyc",
]

MIDDLEWARE = [
    "wallets.middleware.RequestIdMiddleware",
    # A money API body over API_MAX_BODY_BYTES is 413 before anything reads it.
    "wallets.middleware.BodyLimitMiddleware",
    # Reads of a client's own recent writes from the primary (only when there is a replica).
    "wallets.replica.ReadYourWritesMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # The back office's own (wallets/middleware.py: Django's, skipped on the money API's paths).
    "wallets.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "wallets.middleware.AuthenticationMiddleware",
    "wallets.middleware.OTPMiddleware",
    "wallets.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# The quick start's own files: its PostgreSQL cluster (`postgres/`) and its local logins and keys.
QUICK_START_DIR = Path(os.environ.get("QUICK_START_DIR", "").strip() or BASE_DIR / "var")
DATABASE_URL = os.environ.get("DATABASE_URL", "").strip()
if not DATABASE_URL:
    if not DEBUG:
        raise ImproperlyConfigured("DATABASE_URL is required; only the quick start (DEBUG=1) has a server of its own.")
    # The quick start's server, which `manage.py devserver` (`make run`) makes and starts (config/localdb.py).
    from config.localdb import quick_start_url

    DATABASE_URL = quick_start_url(QUICK_START_DIR / "postgres")
DATABASES = {
    "default": dj_database_url.parse(
        DATABASE_URL,
        conn_max_age=env_int("DB_CONN_MAX_AGE", 60),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
    raise ImproperlyConfigured("DATABASE_URL must name a PostgreSQL server (postgres://...): the ledger is PostgreSQL's.")
# The same backend with a health check that needs no round trip (config/postgresql/base.py).
DATABASES["default"]["ENGINE"] = "config.postgresql"
# Behind PgBouncer in transaction pooling mode (`DATABASE_POOLING=transaction`): no server-side
# cursors (a cursor lives in one server session, which the pooler hands to others between
# transactions). Prepared statements are off already (Django's default for psycopg); advisory locks
# are transaction-scoped (wallets/events.py). Jobs and migrations may use `DATABASE_DIRECT_URL`.
DATABASE_POOLING = os.environ.get("DATABASE_POOLING", "session").strip().lower()
if DATABASE_POOLING not in ("session", "transaction"):
    raise ImproperlyConfigured(f"DATABASE_POOLING must be 'session' or 'transaction', not {DATABASE_POOLING!r}.")
DATABASES["default"]["DISABLE_SERVER_SIDE_CURSORS"] = DATABASE_POOLING == "transaction"
# The server itself, for what needs a session of its own: the job workers' LISTEN (wallets/jobs.py).
DATABASE_DIRECT_URL = os.environ.get("DATABASE_DIRECT_URL", "").strip()
# A streaming replica (optional): reads that may lag go there (wallets/replica.py), everything else,
# every read inside a money transaction and a client's reads soon after its own write to the primary.
DATABASE_REPLICA_URL = os.environ.get("DATABASE_REPLICA_URL", "").strip()
REPLICA_READ_AFTER_WRITE_SECONDS = env_int("REPLICA_READ_AFTER_WRITE_SECONDS", 10)
# After a failed connection or read, or a lag above REPLICA_MAX_LAG_SECONDS, the replica is left
# alone for REPLICA_RETRY_SECONDS (reads go to the primary).
REPLICA_RETRY_SECONDS = env_int("REPLICA_RETRY_SECONDS", 5)
REPLICA_MAX_LAG_SECONDS = env_int("REPLICA_MAX_LAG_SECONDS", 5)
if DATABASE_REPLICA_URL:
    DATABASES["replica"] = dj_database_url.parse(
        DATABASE_REPLICA_URL, conn_max_age=env_int("DB_CONN_MAX_AGE", 60), conn_health_checks=True
    )
    DATABASES["replica"].update(
        ENGINE="config.postgresql",
        DISABLE_SERVER_SIDE_CURSORS=DATABASE_POOLING == "transaction",
        # Tests: the replica serves the primary's test database (it is a copy of the whole cluster).
        TEST={"MIRROR": "default"},
    )
    DATABASES["replica"].setdefault("OPTIONS", {})["connect_timeout"] = env_int("REPLICA_CONNECT_TIMEOUT", 2)
    DATABASE_ROUTERS = ["wallets.replica.ReplicaRouter"]
# A cache shared by every process (`CACHE_URL=redis://...`): a client's last write, for reading its
# own writes from the primary. Without one each process keeps its own (enough for one process).
CACHE_URL = os.environ.get("CACHE_URL", "").strip()
if CACHE_URL:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": CACHE_URL,
                          "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1}}}

# Background jobs: procrastinate on PostgreSQL (`python manage.py jobs_worker`, wallets/jobs.py).
INSTALLED_APPS.append("procrastinate.contrib.django")
PROCRASTINATE_AUTODISCOVER_MODULE_NAME = "tasks"

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "wallets.User"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"

# Production is served over https behind a proxy that says so in X-Forwarded-Proto (it must set or
# strip that header). Plain http is redirected, except the probes a load balancer makes from inside.
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", not DEBUG)
SECURE_REDIRECT_EXEMPT = [r"^(healthz|readyz|metrics)$"]
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0 if DEBUG else 365 * 24 * 3600)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", True)
SECURE_REFERRER_POLICY = "same-origin"
SESSION_COOKIE_SECURE = not DEBUG
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_SECURE = not DEBUG
X_FRAME_OPTIONS = "DENY"

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "wallets.api.auth.ApiKeyAuthentication",
        "wallets.api.auth.UserJWTAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PARSER_CLASSES": ["wallets.api.rendering.DecimalJSONParser"],
    "DEFAULT_RENDERER_CLASSES": ["wallets.api.rendering.DecimalJSONRenderer"],
    "DEFAULT_SCHEMA_CLASS": "wallets.api.schema.AutoSchema",
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "EXCEPTION_HANDLER": "wallets.api.errors.exception_handler",
    "UNAUTHENTICATED_USER": None,
    "COERCE_DECIMAL_TO_STRING": False,
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Wallet service API",
    "DESCRIPTION": (
        "Two dialects over one double-entry ledger: the WeBuddy API (`/v1`, camelCase, "
        "`Authorization: Api-Key <key>`) and the TMR Land wallet API (`/api/v1/wallet`, snake_case, "
        "`Authorization: Bearer <JWT>`). Errors are `{\"code\", \"message\"[, \"fields\"]}`."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
}

SIMPLE_JWT = {
    "ACCESS_TOKEN_LIFETIME": timedelta(minutes=env_int("JWT_ACCESS_MINUTES", 15)),
    "REFRESH_TOKEN_LIFETIME": timedelta(days=env_int("JWT_REFRESH_DAYS", 7)),
    "AUTH_HEADER_TYPES": ("Bearer",),
    "USER_ID_FIELD": "id",
    "USER_ID_CLAIM": "user_id",
    "UPDATE_LAST_LOGIN": False,
    "SIGNING_KEY": SECRET_KEY,
}
# Proxies in front of the service (addresses or networks, e.g. "10.0.0.0/8"): only when the peer is
# one of them is X-Forwarded-For read for the client's address (login throttling, logs, /metrics).
TRUSTED_PROXIES = env_list("TRUSTED_PROXIES")
for _proxy in TRUSTED_PROXIES:
    try:
        ipaddress.ip_network(_proxy, strict=False)
    except ValueError:
        raise ImproperlyConfigured(f"TRUSTED_PROXIES: {_proxy!r} is not an address or a network.") from None
# Who may read /metrics (addresses or networks; empty: nobody, the endpoint answers 404).
METRICS_ALLOWED_IPS = env_list("METRICS_ALLOWED_IPS", "127.0.0.1,::1")
for _allowed in METRICS_ALLOWED_IPS:
    try:
        ipaddress.ip_network(_allowed, strict=False)
    except ValueError:
        raise ImproperlyConfigured(f"METRICS_ALLOWED_IPS: {_allowed!r} is not an address or a network.") from None
# Back office: whoever can move money signs in with a second factor (TOTP); on whenever DEBUG is off.
ADMIN_OTP_REQUIRED = env_bool("ADMIN_OTP_REQUIRED", not DEBUG)
OTP_TOTP_ISSUER = os.environ.get("OTP_TOTP_ISSUER", "Wallet back office")
# Failed logins (API and back office) allowed per username and per client IP within the window, before 429.
LOGIN_FAILURE_LIMIT = env_int("LOGIN_FAILURE_LIMIT", 5)
LOGIN_FAILURE_WINDOW_SECONDS = env_int("LOGIN_FAILURE_WINDOW_SECONDS", 15 * 60)

# Logs: one line per record on stderr, JSON objects in production (LOG_FORMAT=json, the default with
# DEBUG off), each with the request id; ACCESS_LOG adds a line per request (runserver has its own).
LOG_FORMAT = os.environ.get("LOG_FORMAT", "plain" if DEBUG else "json")
if LOG_FORMAT not in {"plain", "json"}:
    raise ImproperlyConfigured("LOG_FORMAT must be plain or json.")
ACCESS_LOG = env_bool("ACCESS_LOG", not DEBUG)
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": "wallets.logs.RequestIdFilter"}},
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"},
        "json": {"()": "wallets.logs.JsonLines"},
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": LOG_FORMAT, "filters": ["request_id"]}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    # The job engine says at every start which tasks it found: only its warnings are worth a line.
    "loggers": {"procrastinate": {"level": os.environ.get("JOBS_LOG_LEVEL", "WARNING")}},
}

# Ledger and money settings.
# The currency the `webuddy` tenant is created with (its row decides from then on).
WEBUDDY_CURRENCY = os.environ.get("WEBUDDY_CURRENCY", "INR")
# The platform's cut of sessions and escrow releases, for tenants (and experts) without their own.
PLATFORM_FEE_PERCENT = env_decimal("PLATFORM_FEE_PERCENT", "10")
# Each system account (gateway clearing, platform revenue, ...) is split into this many stripes so
# that no single row is touched by every posting.
LEDGER_SYSTEM_STRIPES = env_int("LEDGER_SYSTEM_STRIPES", 8)
IDEMPOTENCY_TTL_HOURS = env_int("IDEMPOTENCY_TTL_HOURS", 24)
# Outside calls (payment gateways) give up after this many seconds.
GATEWAY_TIMEOUT_SECONDS = env_int("GATEWAY_TIMEOUT_SECONDS", 10)
# How long a request with an Idempotency-Key holds its key; a retry after that resumes its work.
IDEMPOTENCY_LEASE_SECONDS = env_int("IDEMPOTENCY_LEASE_SECONDS", max(60, 3 * GATEWAY_TIMEOUT_SECONDS))
# Events for client backends: how long they are kept for the catch-up API, and their deliveries.
EVENT_RETENTION_DAYS = env_int("EVENT_RETENTION_DAYS", 30)
WEBHOOK_TIMEOUT_SECONDS = env_int("WEBHOOK_TIMEOUT_SECONDS", 5)
WEBHOOK_RETRY_BASE_SECONDS = env_int("WEBHOOK_RETRY_BASE_SECONDS", 30)
WEBHOOK_RETRY_HOURS = env_int("WEBHOOK_RETRY_HOURS", 72)
# Receivers must be https on public addresses, unless these say otherwise (the quick start and tests).
WEBHOOK_ALLOW_HTTP = env_bool("WEBHOOK_ALLOW_HTTP", False)
WEBHOOK_ALLOW_PRIVATE = env_bool("WEBHOOK_ALLOW_PRIVATE", False)
# Monthly payouts are run for the month before on this day of the month (0: not scheduled).
MONTHLY_PAYOUT_DAY = env_int("MONTHLY_PAYOUT_DAY", 1)
if not 0 <= MONTHLY_PAYOUT_DAY <= 28:
    raise ImproperlyConfigured("MONTHLY_PAYOUT_DAY must be 1 to 28 (a day every month has), or 0 for never.")
# The periodic jobs: gateway sync looks at what is stuck this long; sessions open this long are cancelled.
GATEWAY_SYNC_AFTER_MINUTES = env_int("GATEWAY_SYNC_AFTER_MINUTES", 15)
SESSION_EXPIRE_HOURS = env_int("SESSION_EXPIRE_HOURS", 6)
# A live recharge nobody paid this long is failed by the sync (a Stripe PaymentIntent cancelled first).
RECHARGE_EXPIRE_HOURS = env_int("RECHARGE_EXPIRE_HOURS", 24)
# Workers say they are alive this often; a job of one silent for JOBS_STALLED_SECONDS runs again elsewhere.
JOBS_HEARTBEAT_SECONDS = env_int("JOBS_HEARTBEAT_SECONDS", 10)
JOBS_STALLED_SECONDS = env_int("JOBS_STALLED_SECONDS", 30)
PROCRASTINATE_WORKER_DEFAULTS = {
    "update_heartbeat_interval": JOBS_HEARTBEAT_SECONDS,
    "stalled_worker_timeout": JOBS_STALLED_SECONDS,
}

# The largest request body the API reads (413 `payload_too_large` beyond); bodies nest at most 32 deep.
API_MAX_BODY_BYTES = env_int("API_MAX_BODY_BYTES", 256 * 1024)
# Django's own cap on a body read into memory, never below the API's (the back office keeps Django's 2.5 MB).
DATA_UPLOAD_MAX_MEMORY_SIZE = max(2_621_440, API_MAX_BODY_BYTES)
# "simulated" (no keys, no network) or "live" (Razorpay and Stripe; the six keys below are required:
# `manage.py check`, and with it migrate and the servers, refuse to start without any one of them).
PAYMENTS_MODE = os.environ.get("PAYMENTS_MODE", "simulated")
RAZORPAY_KEY_ID = os.environ.get("RAZORPAY_KEY_ID", "")
RAZORPAY_KEY_SECRET = os.environ.get("RAZORPAY_KEY_SECRET", "")
RAZORPAY_WEBHOOK_SECRET = os.environ.get("RAZORPAY_WEBHOOK_SECRET", "")
RAZORPAYX_ACCOUNT_NUMBER = os.environ.get("RAZORPAYX_ACCOUNT_NUMBER", "")
STRIPE_SECRET_KEY = os.environ.get("STRIPE_SECRET_KEY", "")
STRIPE_WEBHOOK_SECRET = os.environ.get("STRIPE_WEBHOOK_SECRET", "")
# Where the providers' APIs are: a sandbox or a local test double can stand in.
RAZORPAY_API_BASE = os.environ.get("RAZORPAY_API_BASE", "https://api.razorpay.com").rstrip("/")
STRIPE_API_BASE = os.environ.get("STRIPE_API_BASE", "https://api.stripe.com").rstrip("/")
# RazorpayX payouts up to and including this many rupees go by IMPS, larger ones by NEFT.
PAYOUT_IMPS_LIMIT = env_decimal("PAYOUT_IMPS_LIMIT", "500000")
PHONE_DEFAULT_REGION = os.environ.get("PHONE_DEFAULT_REGION", "IN")
PAYOUT_THRESHOLD = env_decimal("PAYOUT_THRESHOLD", "0")
