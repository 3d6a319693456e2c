"""Tenants: the marketplaces whose money this service keeps, and the rules that keep them apart.

A tenant owns its users, its API keys (which speak its dialect) and its system accounts. Every
lookup an API makes by id is made within the caller's tenant, so another tenant's id answers exactly
like an id that does not exist. Wallets open only in the tenant's currencies.
"""
import re
from decimal import Decimal

from django.conf import settings
from django.db import transaction

from wallets import ledger
from wallets.errors import DomainError, ErrorCode
from wallets.models import Tenant
from wallets.money import CURRENCIES
from wallets.validation import invalid

TENANT_CODE = re.compile(r"[a-z0-9][a-z0-9_-]{0,31}")

# People who sign up with a username and use the wallet with a JWT are TMR Land's.
END_USER_TENANT = "tmr"

# The tenants every deployment has (also created again after a test database is flushed).
SEED_TENANTS = (
    {"code": "webuddy", "name": "WeBuddy", "dialect": Tenant.Dialect.WEBUDDY, "currencies": None},
    {"code": "tmr", "name": "TMR Land", "dialect": Tenant.Dialect.TMR, "currencies": ["USD", "USDC"]},
)


def tenant_currency_require(*, tenant: Tenant, currency: str) -> str:
    """`currency` if the tenant's wallets may hold it, else 400 `currency_not_supported`."""
    if currency not in tenant.currencies:
        raise DomainError(
            ErrorCode.CURRENCY_NOT_SUPPORTED,
            f"{tenant.name} wallets hold {', '.join(tenant.currencies)}; not {currency}.",
        )
    return currency


def tenant_fee_percent(*, tenant: Tenant) -> Decimal:
    """The tenant's platform fee, or the deployment's PLATFORM_FEE_PERCENT when it sets none."""
    if tenant.platform_fee_percent is None:
        return Decimal(settings.PLATFORM_FEE_PERCENT)
    return tenant.platform_fee_percent


def tenant_end_users() -> Tenant:
    return Tenant.objects.get(code=END_USER_TENANT)


def tenant_validate(*, code: str, name: str, dialect: str, currencies, platform_fee_percent=None) -> None:
    if not isinstance(code, str) or not TENANT_CODE.fullmatch(code):
        raise invalid("code", "1 to 32 lower-case letters, digits, - or _, starting with a letter or digit.")
    if not name or not name.strip():
        raise invalid("name", "A name is required.")
    if dialect not in Tenant.Dialect.values:
        raise invalid("dialect", f"Must be one of {', '.join(Tenant.Dialect.values)}.")
    if not isinstance(currencies, list) or not currencies:
        raise invalid("currencies", "A list of one or more currency codes, the default first.")
    if any(c not in CURRENCIES for c in currencies) or len(set(currencies)) != len(currencies):
        raise invalid("currencies", f"Each of {', '.join(CURRENCIES)}, at most once.")
    if platform_fee_percent is not None and not (0 <= Decimal(platform_fee_percent) <= 100):
        raise invalid("platform_fee_percent", "Between 0 and 100.")


def tenant_create(*, code: str, name: str, dialect: str, currencies: list[str], platform_fee_percent=None) -> Tenant:
    """A new marketplace with its system accounts in each of its currencies; then give it API keys."""
    tenant_validate(code=code, name=name, dialect=dialect, currencies=currencies, platform_fee_percent=platform_fee_percent)
    with transaction.atomic():
        if Tenant.objects.filter(code=code).exists():
            raise invalid("code", "A tenant with this code exists.")
        tenant = Tenant.objects.create(
            code=code, name=name.strip(), dialect=dialect, currencies=currencies, platform_fee_percent=platform_fee_percent
        )
        ledger.ensure_system_accounts(tenant=tenant.code)
    return tenant


def tenant_update(*, tenant: Tenant, name: str, currencies: list[str], platform_fee_percent=None) -> Tenant:
    """Rename, change the fee, or add currencies. Once the tenant has wallets its default (first)
    currency stays, and a currency in use is never taken away."""
    tenant_validate(code=tenant.code, name=name, dialect=tenant.dialect, currencies=currencies,
                    platform_fee_percent=platform_fee_percent)
    with transaction.atomic():
        locked = Tenant.objects.select_for_update().get(pk=tenant.pk)
        has_wallets = locked.accounts.filter(kind="wallet").exists()
        if has_wallets and currencies[0] != locked.currencies[0]:
            # The default is where every user's first wallet is: changing it would strand them all.
            raise invalid("currencies", f"Wallets exist: the default currency stays {locked.currencies[0]}, first.")
        dropped = set(locked.currencies) - set(currencies)
        if dropped and locked.accounts.filter(kind="wallet", currency__in=dropped).exists():
            raise invalid("currencies", f"Wallets in {', '.join(sorted(dropped))} exist; a currency in use stays.")
        locked.name, locked.currencies, locked.platform_fee_percent = name.strip(), currencies, platform_fee_percent
        locked.save(update_fields=["name", "currencies", "platform_fee_percent"])
        ledger.ensure_system_accounts(tenant=locked.code)
    return locked


def ensure_seed_tenants(using: str = "default") -> None:
    """Create WeBuddy and TMR Land if they are missing (idempotent; migration 0013 made them first)."""
    for seed in SEED_TENANTS:
        currencies = seed["currencies"] or [settings.WEBUDDY_CURRENCY]
        Tenant.objects.using(using).get_or_create(
            code=seed["code"], defaults={"name": seed["name"], "dialect": seed["dialect"], "currencies": currencies}
        )
