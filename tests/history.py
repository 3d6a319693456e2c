"""Ledger history in the past, for tests of point-in-time features (monthly payouts).

Postings always carry the time they were made; history from an earlier month is written here the
way a data import would: a balanced journal transaction with its entries and running balance, and
the cached balance moved to match (oldest first, before any live posting on the wallet).
"""
from datetime import datetime
from decimal import Decimal

from django.db import transaction
from django.db.models import F

from wallets.ledger import system_account_id
from wallets.models import Account, Entry, JournalTransaction


def backdated_deposit(wallet: Account, amount: Decimal, at: datetime) -> None:
    clearing = system_account_id(wallet.tenant_id, Account.System.GATEWAY_CLEARING, wallet.currency, 0)
    with transaction.atomic():
        Account.objects.filter(pk=wallet.pk).update(
            balance=F("balance") + amount, statement_lines=F("statement_lines") + 1
        )
        wallet.refresh_from_db()
        txn = JournalTransaction.objects.create(kind="deposit", description="Imported earning", created_at=at)
        Entry.objects.bulk_create(
            [
                Entry(transaction=txn, account_id=clearing, currency=wallet.currency, amount=-amount, type="deposit", created_at=at),
                Entry(
                    transaction=txn, account=wallet, currency=wallet.currency, amount=amount, type="credit",
                    balance_after=wallet.balance, held_after=wallet.held_balance, created_at=at,
                ),
            ]
        )
