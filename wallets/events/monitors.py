"""Low-balance monitors: `wallet.balance_low` when a wallet's available balance crosses below a
monitor's amount, once, and again only after it has risen back to that amount or above.

Every change of a balance goes through `wallets.ledger.post`, which locks the wallet rows it
touches; when one of them is `monitored`, `monitors_evaluate` runs after it in the same transaction
(a listener of the ledger's), so monitors are read only for watched wallets and an edge is seen
exactly once (postings of a wallet are serialized by its row lock). Creating and deleting a monitor
takes the same lock.
"""
from dataclasses import dataclass
from decimal import Decimal

from django.db import transaction

from wallets.errors import DomainError, ErrorCode
from wallets.events.outbox import event_emit
from wallets.models import Account, BalanceMonitor, Tenant
from wallets.money import parse_amount
from wallets.validation import parse_id


@dataclass(frozen=True)
class BalanceLow:
    """What `wallet.balance_low` is about: the monitor, and the available balance that crossed it."""

    monitor: BalanceMonitor
    available: Decimal


def _fire(monitor: BalanceMonitor, available: Decimal) -> None:
    event_emit(tenant=monitor.tenant, type="wallet.balance_low", kind="balance_low", obj=BalanceLow(monitor, available))


def posting_watched(posted, kind: str) -> None:
    """The ledger's listener: evaluate the monitors of the watched wallets a posting touched."""
    if posted.monitored:
        monitors_evaluate(posted)


def monitors_evaluate(posted) -> None:
    """After a posting (in its transaction, its wallets locked): fire the armed monitors the new
    available balance is below, and re-arm the fired ones it is back at or above."""
    for account_id in sorted(posted.monitored):
        balance, held = posted.balances[account_id]
        available = balance - held
        for monitor in BalanceMonitor.objects.select_related("tenant", "account").filter(account_id=account_id).order_by("pk"):
            if monitor.armed and available < monitor.below:
                BalanceMonitor.objects.filter(pk=monitor.pk).update(armed=False)
                _fire(monitor, available)
            elif not monitor.armed and available >= monitor.below:
                BalanceMonitor.objects.filter(pk=monitor.pk).update(armed=True)


MAX_MONITORS_PER_WALLET = 10


def monitor_create(*, wallet: Account, below) -> BalanceMonitor:
    """Watch a wallet (`below` zero or more, in the wallet's currency's decimals). Fires at once if the
    available balance is already below. At most MAX_MONITORS_PER_WALLET (409 `limit_reached`)."""
    amount = parse_amount(below, wallet.currency, field="below", allow_zero=True)
    with transaction.atomic():
        locked = Account.objects.select_for_update(of=("self",)).select_related("tenant").get(pk=wallet.pk)
        if BalanceMonitor.objects.filter(account=locked).count() >= MAX_MONITORS_PER_WALLET:
            raise DomainError(ErrorCode.LIMIT_REACHED, f"At most {MAX_MONITORS_PER_WALLET} monitors per wallet; delete one first.")
        available = locked.balance - locked.held_balance
        monitor = BalanceMonitor.objects.create(tenant=locked.tenant, account=locked, below=amount, armed=not available < amount)
        if not locked.monitored:
            Account.objects.filter(pk=locked.pk).update(monitored=True)
        if available < amount:
            _fire(monitor, available)
    return monitor


def monitor_delete(*, monitor: BalanceMonitor) -> None:
    with transaction.atomic():
        locked = Account.objects.select_for_update().get(pk=monitor.account_id)
        BalanceMonitor.objects.filter(pk=monitor.pk).delete()
        if not BalanceMonitor.objects.filter(account=locked).exists():
            Account.objects.filter(pk=locked.pk).update(monitored=False)


def monitor_find(*, tenant: Tenant, monitor_id) -> BalanceMonitor:
    monitor = (
        BalanceMonitor.objects.select_related("account")
        .filter(pk=parse_id(monitor_id, ErrorCode.MONITOR_NOT_FOUND, "No such monitor."), tenant=tenant)
        .first()
    )
    if monitor is None:
        raise DomainError(ErrorCode.MONITOR_NOT_FOUND, "No such monitor.")
    return monitor


def monitors_of(*, tenant: Tenant, user_id=None) -> list[BalanceMonitor]:
    """The tenant's monitors (of one user, if given), oldest first."""
    monitors = BalanceMonitor.objects.select_related("account").filter(tenant=tenant)
    if user_id is not None:
        monitors = monitors.filter(account__user_id=user_id)
    return list(monitors.order_by("created_at", "pk"))
