"""History from before this ledger: an amount a wallet held at a past moment, imported as a data
migration from another system would bring it (and as the quick start's demo data does).

An imported line is a balanced journal transaction like any other (the wallet against one of its
tenant's system accounts), dated when it happened, with the running balance the wallet had then.
It may only come before every line the wallet already has, so no later line's running balance
becomes wrong: import oldest first, before the wallet is used."""
from datetime import datetime
from decimal import Decimal

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from wallets.ledger import system_account_id
from wallets.models import Account, Entry, JournalTransaction
from wallets.money import parse_amount

System = Account.System


def wallet_history_import(
    *, wallet: Account, amount: Decimal, at: datetime, description: str = "Imported earning",
    source: str = System.ADJUSTMENTS,
) -> JournalTransaction:
    """Credit `wallet` with `amount` at the past moment `at`, against its tenant's `source` system
    account. ValueError (a caller's mistake: no client reaches this) for a moment to come, or one at or
    before which the wallet already has a line."""
    amount = parse_amount(amount, wallet.currency)
    if at > timezone.now():
        raise ValueError("imported history must be in the past")
    with transaction.atomic():
        locked = Account.objects.select_for_update().get(pk=wallet.pk)
        if Entry.objects.filter(account_id=locked.pk, created_at__gte=at).exists():
            raise ValueError("the wallet already has history at or after that moment: import oldest first")
        Account.objects.filter(pk=locked.pk).update(balance=F("balance") + amount, statement_lines=F("statement_lines") + 1)
        locked.refresh_from_db(fields=["balance", "held_balance", "statement_lines"])
        txn = JournalTransaction.objects.create(kind=JournalTransaction.Kind.DEPOSIT, description=description,
                                                created_at=at)
        counter = system_account_id(locked.tenant_id, source, locked.currency, 0)
        Entry.objects.bulk_create([
            Entry(transaction=txn, account_id=counter, currency=locked.currency, amount=-amount,
                  type=Entry.Type.DEPOSIT, created_at=at),
            Entry(transaction=txn, account=locked, currency=locked.currency, amount=amount, type=Entry.Type.CREDIT,
                  balance_after=locked.balance, held_after=locked.held_balance, created_at=at),
        ])
    wallet.balance, wallet.held_balance = locked.balance, locked.held_balance
    return txn
