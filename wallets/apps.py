from django.apps import AppConfig
from django.db.models.signals import post_migrate


def _ensure_tenants_and_system_accounts(sender, using="default", **kwargs):
    from wallets.ledger import ensure_system_accounts
    from wallets.tenants import ensure_seed_tenants

    ensure_seed_tenants(using=using)
    ensure_system_accounts(using=using)


class WalletsConfig(AppConfig):
    name = "wallets"
    verbose_name = "Wallets and ledger"

    def ready(self):
        # After every migrate and flush, so the tenants and their system accounts' stable ids resolve.
        post_migrate.connect(_ensure_tenants_and_system_accounts, sender=self)
        from wallets.api import schema  # noqa: F401  (registers the OpenAPI auth extension)
