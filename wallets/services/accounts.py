"""Wallets as accounts: open one in a currency of the owner's tenant, suspend and reactivate it.
(Reads, such as a user's wallet, are in `wallets.selectors`.)"""
from decimal import Decimal

from django.db import IntegrityError, transaction

from wallets.errors import DomainError, ErrorCode
from wallets.events import event_emit
from wallets.models import Account, Tenant, User
from wallets.money import currency_exponent
from wallets.tenants import tenant_currency_require


def _owner_tenant(user: User) -> Tenant:
    if user.tenant_id is None:
        raise ValueError("staff users belong to no tenant and own no wallet")
    return user.tenant


def wallet_create(*, user: User, currency: str, credit_limit: Decimal = Decimal(0)) -> Account:
    """Open the user's wallet in `currency`, one of their tenant's currencies (400
    `currency_not_supported` otherwise); 409 `wallet_exists` if it is already open."""
    currency_exponent(currency)
    tenant = _owner_tenant(user)
    tenant_currency_require(tenant=tenant, currency=currency)
    try:
        with transaction.atomic():
            return Account.objects.create(
                tenant=tenant, kind=Account.Kind.WALLET, user=user, currency=currency, credit_limit=credit_limit
            )
    except IntegrityError:
        raise DomainError(ErrorCode.WALLET_EXISTS, f"The user already has a {currency} wallet.") from None


def wallet_get_or_create(*, user: User, currency: str, credit_limit: Decimal = Decimal(0)) -> Account:
    currency_exponent(currency)
    wallet = Account.objects.filter(kind=Account.Kind.WALLET, user=user, currency=currency).first()
    if wallet is not None:
        return wallet
    try:
        return wallet_create(user=user, currency=currency, credit_limit=credit_limit)
    except DomainError as exc:
        if exc.code != ErrorCode.WALLET_EXISTS:
            raise
        return Account.objects.get(kind=Account.Kind.WALLET, user=user, currency=currency)  # opened concurrently


def _wallet_status_set(*, wallet: Account, status: str, event: str) -> Account:
    """Suspend or reactivate a wallet; the tenant's `wallet.suspended`/`wallet.reactivated` when it changes."""
    if wallet.kind != Account.Kind.WALLET:
        raise DomainError(ErrorCode.WALLET_NOT_FOUND, "System accounts are never suspended.")
    with transaction.atomic():
        locked = Account.objects.select_for_update().get(pk=wallet.pk)
        if locked.status == status:
            return locked
        locked.status = status
        locked.save(update_fields=["status", "updated_at"])
        event_emit(tenant=locked.tenant, type=event, obj=locked)
    return locked


def wallet_suspend(*, wallet: Account) -> Account:
    return _wallet_status_set(wallet=wallet, status=Account.Status.SUSPENDED, event="wallet.suspended")


def wallet_reactivate(*, wallet: Account) -> Account:
    return _wallet_status_set(wallet=wallet, status=Account.Status.ACTIVE, event="wallet.reactivated")

