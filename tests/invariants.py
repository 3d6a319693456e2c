"""The ledger invariants, checked straight from the tables (independently of `reconcile`)."""
from collections import defaultdict
from decimal import Decimal

from wallets.models import Account, Entry, JournalTransaction


def assert_ledger_invariants() -> None:
    per_txn: dict = defaultdict(lambda: defaultdict(Decimal))
    counts: dict = defaultdict(int)
    per_currency: dict = defaultdict(Decimal)
    per_account: dict = defaultdict(lambda: [Decimal(0), Decimal(0)])
    lines: dict = defaultdict(set)
    for txn_id, account_id, currency, bucket, amount in Entry.objects.values_list(
        "transaction_id", "account_id", "currency", "bucket", "amount"
    ):
        per_txn[txn_id][currency] += amount
        counts[txn_id] += 1
        per_currency[currency] += amount
        per_account[account_id][0] += amount
        lines[account_id].add(txn_id)
        if bucket == Entry.Bucket.HELD:
            per_account[account_id][1] += amount

    for txn_id in JournalTransaction.objects.values_list("id", flat=True):
        assert counts[txn_id] >= 2, f"transaction {txn_id} has {counts[txn_id]} entries"
        for currency, total in per_txn[txn_id].items():
            assert total == 0, f"transaction {txn_id} sums to {total} {currency}"
    for currency, total in per_currency.items():
        assert total == 0, f"all {currency} accounts together sum to {total}"
    for account in Account.objects.all():
        total, held = per_account[account.id]
        if account.kind == Account.Kind.WALLET:
            assert account.balance == total, f"{account}: cached {account.balance} != entries {total}"
            assert account.held_balance == held, f"{account}: cached held {account.held_balance} != {held}"
            assert account.held_balance >= 0
            assert account.statement_lines == len(lines[account.id]), f"{account}: history line count is off"
            assert account.balance - account.held_balance >= -account.credit_limit, f"{account} beyond credit"
        else:
            assert account.balance == 0 and account.held_balance == 0, f"{account} has a cached balance"
            assert held == 0, f"{account} has a held part"


def money_snapshot() -> tuple:
    """Every wallet's balances and status, and the number of journal transactions: equal before and
    after a refused request, or money moved."""
    wallets = tuple(
        Account.objects.filter(kind=Account.Kind.WALLET).order_by("id").values_list("id", "balance", "held_balance", "status")
    )
    return wallets, JournalTransaction.objects.count()
