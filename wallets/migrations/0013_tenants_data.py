"""The two marketplaces as tenants, and every existing row given its tenant.

- WeBuddy (`webuddy`, the `/v1` dialect, the deployment's WEBUDDY_CURRENCY) and TMR Land (`tmr`,
  `/api/v1/wallet`, USD and USDC); both take the deployment's PLATFORM_FEE_PERCENT (fee left empty).
- Users with a phone number (created by WeBuddy's backend) are WeBuddy's; other users who own a
  wallet or are not staff (signed up with a username) are TMR Land's. Staff without a wallet belong
  to no tenant.
- Wallets go with their owner; API keys by their scope; escrows with their buyer.
- System accounts keep their ids and entries; each goes to the tenant that used its currency
  (`wallets.ledger.LEGACY_SYSTEM_OWNER`: INR to WeBuddy, USD and USDC to TMR Land). A deployment
  whose WeBuddy currency was USD or USDC shared those accounts between both businesses; if they hold
  WeBuddy entries they cannot be split by a migration, and it stops with a message instead.
"""
from django.conf import settings
from django.db import migrations

LEGACY_SYSTEM_OWNER = {"INR": "webuddy", "USD": "tmr", "USDC": "tmr"}  # as wallets.ledger has it


def forward(apps, schema_editor):
    Tenant = apps.get_model("wallets", "Tenant")
    User = apps.get_model("wallets", "User")
    Account = apps.get_model("wallets", "Account")
    ApiKey = apps.get_model("wallets", "ApiKey")
    Escrow = apps.get_model("wallets", "Escrow")
    webuddy_currency = settings.WEBUDDY_CURRENCY
    Tenant.objects.get_or_create(
        code="webuddy", defaults={"name": "WeBuddy", "dialect": "webuddy", "currencies": [webuddy_currency]}
    )
    Tenant.objects.get_or_create(code="tmr", defaults={"name": "TMR Land", "dialect": "tmr", "currencies": ["USD", "USDC"]})

    Entry = apps.get_model("wallets", "Entry")
    User.objects.filter(tenant__isnull=True, phone_number__isnull=False).update(tenant_id="webuddy")
    shared = LEGACY_SYSTEM_OWNER.get(webuddy_currency, "webuddy") != "webuddy"
    if shared:
        webuddy_wallets = Account.objects.filter(kind="wallet", user__tenant_id="webuddy").values("id")
        legacy = Account.objects.filter(kind="system", currency=webuddy_currency).values("id")
        mixed = Entry.objects.filter(account_id__in=legacy, transaction__entries__account_id__in=webuddy_wallets)
        if mixed.exists():
            raise RuntimeError(
                f"WeBuddy's currency {webuddy_currency} is also TMR Land's, and the system accounts both shared hold "
                "WeBuddy entries: they cannot be split into tenants by a migration. Move WeBuddy's part with "
                "balanced transfers first (see docs/tenants.md)."
            )
    has_wallet = Account.objects.filter(kind="wallet").values("user_id")
    User.objects.filter(tenant__isnull=True, id__in=has_wallet).update(tenant_id="tmr")
    User.objects.filter(tenant__isnull=True, is_staff=False, is_superuser=False).update(tenant_id="tmr")

    for code in ("webuddy", "tmr"):
        Account.objects.filter(kind="wallet", tenant__isnull=True, user__tenant_id=code).update(tenant_id=code)
        Escrow.objects.filter(tenant__isnull=True, user__tenant_id=code).update(tenant_id=code)
        ApiKey.objects.filter(tenant__isnull=True, scope=code).update(tenant_id=code)
    for currency in Account.objects.filter(kind="system").values_list("currency", flat=True).distinct():
        owner = LEGACY_SYSTEM_OWNER.get(currency, "webuddy" if currency == webuddy_currency else "tmr")
        Account.objects.filter(kind="system", tenant__isnull=True, currency=currency).update(tenant_id=owner)


def backward(apps, schema_editor):
    for model in ("User", "Account", "ApiKey", "Escrow"):
        apps.get_model("wallets", model).objects.update(tenant=None)


class Migration(migrations.Migration):

    dependencies = [
        ("wallets", "0012_tenants"),
    ]

    operations = [migrations.RunPython(forward, backward)]
