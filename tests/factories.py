"""Test data builders: users and funded wallets through the real services."""
import itertools
from decimal import Decimal

from wallets import services
from wallets.models import Account, ApiKey, User

_counter = itertools.count(1)


def make_user(**extra) -> User:
    n = next(_counter)
    extra.setdefault("name", f"User {n}")
    return User.objects.create_user(username=extra.pop("username", f"user{n}-{id(extra)}"), **extra)


def make_wallet(*, currency: str = "INR", balance=None, credit_limit=Decimal(0), user: User | None = None) -> Account:
    wallet = services.wallet_create(user=user or make_user(), currency=currency, credit_limit=credit_limit)
    if balance:
        services.wallet_deposit(wallet=wallet, amount=Decimal(balance))
        wallet.refresh_from_db()
    return wallet


def make_api_key(scope: str = ApiKey.Scope.WEBUDDY, name: str = "test") -> tuple[ApiKey, str]:
    return services.api_key_create(name=name, scope=scope)
