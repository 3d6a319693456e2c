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
