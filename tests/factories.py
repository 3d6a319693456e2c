"""Test data builders: users and funded wallets through the real services."""
import itertools
from decimal import Decimal

from wallets.models import Account, ApiKey, Tenant, User
from wallets.services import accounts, api_keys, postings

_counter = itertools.count(1)

# Which tenant a wallet of a currency belongs to when a test does not say.
TENANT_OF_CURRENCY = {"INR": "webuddy", "USD": "tmr", "USDC": "tmr"}


def tenant(code: str) -> Tenant:
    return Tenant.objects.get(code=code)


def make_user(*, tenant: str | None = "tmr", **extra) -> User:
    """A user of the tenant (`tenant=None`: a staff-like user of no tenant)."""
    n = next(_counter)
    extra.setdefault("name", f"User {n}")
    return User.objects.create_user(
        username=extra.pop("username", f"user{n}-{id(extra)}"),
        tenant=None if tenant is None else Tenant.objects.get(code=tenant),
        **extra,
    )


def make_wallet(*, currency: str = "INR", balance=None, credit_limit=Decimal(0), user: User | None = None) -> Account:
    user = user or make_user(tenant=TENANT_OF_CURRENCY[currency])
    wallet = accounts.wallet_create(user=user, currency=currency, credit_limit=credit_limit)
    if balance:
        postings.wallet_deposit(wallet=wallet, amount=Decimal(balance))
        wallet.refresh_from_db()
    return wallet


def make_api_key(scope: str = ApiKey.Scope.WEBUDDY, name: str = "test") -> tuple[ApiKey, str]:
    """A key of the tenant whose code is `scope` (`webuddy` or `tmr`, or any tenant's code)."""
    return api_keys.api_key_create(name=name, tenant=Tenant.objects.get(code=scope))
