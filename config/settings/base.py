"""The service itself: secrets, hosts, apps, middleware, templates, the API's framework settings and
the domain's own (currencies, fees, the ledger's stripes). With `DEBUG` off the service refuses to
start without `SECRET_KEY` and `FIELD_ENCRYPTION_KEY`."""
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

from config.settings import env

BASE_DIR = Path(__file__).resolve().parent.parent.parent

DEBUG = env.boolean("DEBUG", False)

SECRET_KEY = env.string("SECRET_KEY")
FIELD_ENCRYPTION_KEY = env.string("FIELD_ENCRYPTION_KEY")
if not DEBUG:
    missing = [name for name, value in (("SECRET_KEY", SECRET_KEY), ("FIELD_ENCRYPTION_KEY", FIELD_ENCRYPTION_KEY))
               if not value]
    if missing:
        raise ImproperlyConfigured(f"{', '.join(missing)} must be set when DEBUG is off; refusing to start.")
else:
    # Local development only: fixed, clearly-marked throwaway keys.
    SECRET_KEY = SECRET_KEY or "dev-insecure-secret-key-do-not-use-in-production"
    FIELD_ENCRYPTION_KEY = FIELD_ENCRYPTION_KEY or "ZGV2LWluc2VjdXJlLWZpZWxkLWtleS0zMmJ5dGVzISE="

ALLOWED_HOSTS = env.items("ALLOWED_HOSTS", "127.0.0.1,localhost,testserver" if DEBUG else "")
CSRF_TRUSTED_ORIGINS = env.items("CSRF_TRUSTED_ORIGINS")

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
    # Background jobs: procrastinate on PostgreSQL (`python manage.py jobs_worker`, wallets/jobs.py).
    "procrastinate.contrib.django",
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

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "wallets.api.auth.ApiKeyAuthentication",
        "wallets.api.auth.UserJWTAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PARSER_CLASSES": ["wallets.api.rendering.DecimalJSONParser"],
    "DEFAULT_RENDERER_CLASSES": ["wallets.api.rendering.DecimalJSONRenderer"],
    "DEFAULT_CONTENT_NEGOTIATION_CLASS": "wallets.api.rendering.JSONFirstNegotiation",
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

# The largest request body the API reads (413 `payload_too_large` beyond); bodies nest at most 32 deep.
API_MAX_BODY_BYTES = env.integer("API_MAX_BODY_BYTES", 256 * 1024)
# Django's own cap on a body read into memory, never below the API's (the back office keeps Django's 2.5 MB).
DATA_UPLOAD_MAX_MEMORY_SIZE = max(2_621_440, API_MAX_BODY_BYTES)
IDEMPOTENCY_TTL_HOURS = env.integer("IDEMPOTENCY_TTL_HOURS", 24)
# How long a request waits for another one with its Idempotency-Key to finish before 409
# `idempotency_key_in_use` (a duplicate never ties up a server thread for longer).
IDEMPOTENCY_WAIT_SECONDS = env.integer("IDEMPOTENCY_WAIT_SECONDS", 10)

# The domain.
# The currency the `webuddy` tenant is created with (its row decides from then on).
WEBUDDY_CURRENCY = env.string("WEBUDDY_CURRENCY", "INR")
# The platform's cut of sessions and escrow releases, for tenants (and experts) without their own.
PLATFORM_FEE_PERCENT = env.decimal("PLATFORM_FEE_PERCENT", "10")
# Each system account (gateway clearing, platform revenue, ...) is split into this many stripes so
# that no single row is touched by every posting.
LEDGER_SYSTEM_STRIPES = env.integer("LEDGER_SYSTEM_STRIPES", 8)
PHONE_DEFAULT_REGION = env.string("PHONE_DEFAULT_REGION", "IN")
PAYOUT_THRESHOLD = env.decimal("PAYOUT_THRESHOLD", "0")
