"""System checks of the service's own settings: `manage.py check` (and with it `migrate`,
`runserver` and, through `config.wsgi`, gunicorn) refuses to start with live payments half set up."""
from django.conf import settings
from django.core import checks

from wallets.gateways import LIVE_SETTINGS


@checks.register("payments", deploy=False)
def payments_configured(app_configs=None, **kwargs):
    mode = settings.PAYMENTS_MODE
    if mode not in ("simulated", "live"):
        return [checks.Error(f"PAYMENTS_MODE={mode!r}; use 'simulated' or 'live'.", id="wallets.E001")]
    if mode != "live":
        return []
    missing = [name for name in LIVE_SETTINGS if not getattr(settings, name, "")]
    return [
        checks.Error(
            f"PAYMENTS_MODE=live needs {name}.", hint="Set it in the environment (see docs/payments.md).",
            id="wallets.E002",
        )
        for name in missing
    ]


@checks.register(checks.Tags.security, deploy=True)
def back_office_second_factor(app_configs=None, **kwargs):
    if settings.ADMIN_OTP_REQUIRED:
        return []
    return [checks.Warning(
        "ADMIN_OTP_REQUIRED is off: staff who can move money sign in to the back office with a password alone.",
        hint="Unset ADMIN_OTP_REQUIRED (it is on whenever DEBUG is off).", id="wallets.W001",
    )]


@checks.register(checks.Tags.database, deploy=True)
def replica_reads_own_writes(app_configs=None, **kwargs):
    """With a replica, a client's recent writes are remembered in the cache: one cache for every
    process, or a client may read a moment-old page from the replica just after its own write."""
    if "replica" not in settings.DATABASES:
        return []
    backend = settings.CACHES["default"]["BACKEND"]
    if backend.endswith("RedisCache") or backend.endswith("MemcacheCache") or backend.endswith("PyMemcacheCache"):
        return []
    return [checks.Error(
        "DATABASE_REPLICA_URL is set but the cache is per process: a client whose next read lands on another "
        "process may not see its own write for up to the replica's lag.",
        hint="Set CACHE_URL (e.g. redis://host:6379/0), shared by every app server.", id="wallets.E003",
    )]
