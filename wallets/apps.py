from django.apps import AppConfig
from django.db.models.signals import post_migrate


def _ensure_system_accounts(sender, using="default", **kwargs):
    from wallets.ledger import ensure_system_accounts

    ensure_system_accounts(using=using)


class WalletsConfig(AppConfig):
    name = "wallets"
    verbose_name = "Wallets and ledger"

    def ready(self):
        # After every migrate and flush, so the system accounts' stable ids always resolve.
        post_migrate.connect(_ensure_system_accounts, sender=self)
        from wallets.api import schema  # noqa: F401  (registers the OpenAPI auth extension)
