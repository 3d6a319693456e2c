from django.apps import AppConfig
from django.core.exceptions import FieldDoesNotExist
from django.db.models.signals import post_migrate


def _has_tenants(apps) -> bool:
    """Whether the migration state has tenants and requires them on accounts (wallets 0014 on)."""
    try:
        apps.get_model("wallets", "Tenant")
        return not apps.get_model("wallets", "Account")._meta.get_field("tenant").null
    except (LookupError, FieldDoesNotExist):
        return False


def _ensure_tenants_and_system_accounts(sender, using="default", apps=None, **kwargs):
    from wallets.ledger import ensure_system_accounts
    from wallets.tenants import ensure_seed_tenants

    if apps is not None and not _has_tenants(apps):
        return  # migrated to a state from before tenants: nothing to ensure
    ensure_seed_tenants(using=using)
    ensure_system_accounts(using=using)


class WalletsConfig(AppConfig):
    name = "wallets"
    verbose_name = "Wallets and ledger"

    def ready(self):
        # After every migrate and flush, so the tenants and their system accounts' stable ids resolve.
        post_migrate.connect(_ensure_tenants_and_system_accounts, sender=self)
        from wallets import checks  # noqa: F401  (registers the payments settings check)
        from wallets import ledger, metrics
        from wallets.events import monitors, register_event_types

        register_event_types("webuddy", "recharge.succeeded", "recharge.failed", "wallet.suspended", "wallet.reactivated",
                             "wallet.balance_low")
        register_event_types("tmr", "escrow.frozen", "escrow.released", "escrow.cancelled", "wallet.suspended",
                             "wallet.reactivated")

        # What follows a posting hangs on the ledger, which imports none of it.
        ledger.after_posting(metrics.posting_counted)
        ledger.after_posting(monitors.posting_watched)
        from wallets.api import (  # noqa: F401  (register how events render their objects)
            schema,  # noqa: F401  (registers the OpenAPI auth extension)
            tmr,
            webuddy,
        )
