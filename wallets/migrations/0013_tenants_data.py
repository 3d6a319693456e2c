"""The two marketplaces as tenants, and every existing row given its tenant.

- WeBuddy (`webuddy`, the `/v1` dialect, the deployment's WEBUDDY_CURRENCY) and TMR Land (`tmr`,
  `/api/v1/wallet`, USD and USDC); both take the deployment's PLATFORM_FEE_PERCENT (fee left empty).
- Users with a phone number, or a wallet in WeBuddy's currency, are WeBuddy's; other non-staff users
  (signed up with a username) are TMR Land's. Staff without a wallet belong to no tenant.
- Wallets go with their owner; API keys by their scope; escrows with their buyer.
- System accounts keep their ids and entries; each goes to the tenant that used its currency
  (`wallets.ledger.LEGACY_SYSTEM_OWNER`: INR to WeBuddy, USD and USDC to TMR Land).
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

    with_webuddy_wallet = Account.objects.filter(kind="wallet", currency=webuddy_currency).values("user_id")
    User.objects.filter(tenant__isnull=True, phone_number__isnull=False).update(tenant_id="webuddy")
    User.objects.filter(tenant__isnull=True, id__in=with_webuddy_wallet).update(tenant_id="webuddy")
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
