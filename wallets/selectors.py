"""Reads of wallets and the ledger: point-in-time balances, system account totals, reconciliation."""
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from django.db.models import Count, DecimalField, Max, Min, Q, Sum, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from wallets.models import Account, Entry, JournalTransaction, ReconcileRun

MONEY_FIELD = DecimalField(max_digits=24, decimal_places=6)
ZERO = Value(Decimal(0), output_field=MONEY_FIELD)


def wallet_balance_at(*, wallet: Account, at: datetime) -> tuple[Decimal, Decimal]:
    """(balance, held) of a wallet as of `at`, from its last entry at or before that moment.

    Each wallet's entries are written under its row lock with the time taken after the lock, so the
    last entry's `balance_after` is the balance at that moment; one index probe answers it.
    """
    last = (
        Entry.objects.filter(account=wallet, created_at__lte=at)
        .order_by("-created_at", "-id")
        .values_list("balance_after", "held_after")
        .first()
    )
    return last if last is not None else (Decimal(0), Decimal(0))


def wallet_balance_at_from_sums(*, wallet: Account, at: datetime) -> tuple[Decimal, Decimal]:
    """The same answer summed from the entries themselves (used to cross-check the fast path)."""
    sums = Entry.objects.filter(account=wallet, created_at__lte=at).aggregate(
        total=Coalesce(Sum("amount"), ZERO),
        held=Coalesce(Sum("amount", filter=Q(bucket=Entry.Bucket.HELD)), ZERO),
    )
    return sums["total"], sums["held"]


def wallet_statement(*, wallet: Account | None = None, wallets=None, entries=None):
    """History of one wallet (or several): one line per journal transaction and wallet, newest first.

    A transaction may touch a wallet twice (its available and held parts); the line sums them.
    `entries` may be a pre-filtered Entry queryset (by type or time); all of a wallet's legs in one
    transaction share their type and time, so such filters keep lines whole.
    """
    entries = Entry.objects.all() if entries is None else entries
    entries = entries.filter(account=wallet) if wallet is not None else entries.filter(account__in=wallets)
    return (
        entries.values("created_at", "transaction_id", "account_id", "currency")
        .annotate(
            total=Sum("amount"),
            held=Coalesce(Sum("amount", filter=Q(bucket=Entry.Bucket.HELD)), ZERO),
            type=Min("type"),
            balance_after=Max("balance_after"),
            description=Max("transaction__description"),
            reference_type=Max("transaction__reference_type"),
            reference_id=Max("transaction__reference_id"),
        )
        .order_by("-created_at", "-transaction_id")
    )


def statement_line(row: dict) -> dict:
    """Amount and direction of a statement line: the change of the wallet's balance, or for a
    freeze/unfreeze (which leaves the balance as it is) the change of its available part."""
    change = row["total"] if row["total"] != 0 else row["total"] - row["held"]
    return {**row, "amount": abs(change), "direction": "credit" if change > 0 else "debit"}


def system_account_balance(*, code: str, currency: str) -> Decimal:
    """A system account's balance: the sum of the entries of all its stripes."""
    return Entry.objects.filter(
        account__kind=Account.Kind.SYSTEM, account__system_code=code, currency=currency
    ).aggregate(total=Coalesce(Sum("amount"), ZERO))["total"]


@dataclass
class ReconcileReport:
    accounts_checked: int = 0
    transactions_checked: int = 0
    balance_mismatches: list[dict] = field(default_factory=list)
    unbalanced_transactions: list[dict] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.balance_mismatches and not self.unbalanced_transactions

    @property
    def problems(self) -> list[dict]:
        return self.balance_mismatches + self.unbalanced_transactions


def ledger_reconcile(*, record: bool = True) -> ReconcileReport:
    """Recompute every cached balance from entries and every transaction's sums per currency.

    Each check is one aggregate pass that returns only problems, so time grows linearly with the
    ledger and memory with the number of accounts.
    """
    started = timezone.now()
    report = ReconcileReport()
    sums: dict = {}
    entry_currencies: dict = {}
    per_account = (
        Entry.objects.values("account_id", "currency")
        .annotate(
            total=Sum("amount"),
            held=Coalesce(Sum("amount", filter=Q(bucket=Entry.Bucket.HELD)), ZERO),
            lines=Count("transaction_id", distinct=True),
        )
        .order_by()
    )
    lines: dict = {}
    for row in per_account.iterator(chunk_size=5000):
        sums[row["account_id"]] = (row["total"], row["held"])
        lines[row["account_id"]] = lines.get(row["account_id"], 0) + row["lines"]
        entry_currencies.setdefault(row["account_id"], set()).add(row["currency"])
    accounts = Account.objects.values_list(
        "id", "kind", "currency", "balance", "held_balance", "statement_lines"
    ).order_by()
    known = set()
    for account_id, kind, currency, balance, held, statement_lines in accounts.iterator(chunk_size=5000):
        known.add(account_id)
        report.accounts_checked += 1
        if kind == Account.Kind.WALLET and statement_lines != lines.get(account_id, 0):
            report.balance_mismatches.append(
                {
                    "problem": "statement_lines_mismatch",
                    "account": str(account_id),
                    "cached_lines": statement_lines,
                    "entries_lines": lines.get(account_id, 0),
                }
            )
        if entry_currencies.get(account_id, {currency}) != {currency}:
            report.balance_mismatches.append(
                {"problem": "entry_currency_mismatch", "account": str(account_id), "currency": currency}
            )
        total, entries_held = sums.get(account_id, (Decimal(0), Decimal(0)))
        if kind == Account.Kind.SYSTEM:
            # System accounts keep no cached balance: theirs must stay zero, whatever their entries say.
            total, entries_held = Decimal(0), Decimal(0)
        if balance != total or held != entries_held:
            report.balance_mismatches.append(
                {
                    "problem": "balance_mismatch",
                    "account": str(account_id),
                    "cached_balance": str(balance),
                    "entries_balance": str(total),
                    "cached_held": str(held),
                    "entries_held": str(entries_held),
                }
            )
    for account_id in set(sums) - known:
        report.balance_mismatches.append({"problem": "entries_without_account", "account": str(account_id)})
    unbalanced = (
        Entry.objects.values("transaction_id", "currency")
        .annotate(total=Sum("amount"))
        .exclude(total=0)
        .order_by()
    )
    for row in unbalanced.iterator(chunk_size=5000):
        report.unbalanced_transactions.append(
            {
                "problem": "unbalanced_transaction",
                "transaction": str(row["transaction_id"]),
                "currency": row["currency"],
                "sum": str(row["total"]),
            }
        )
    too_few = JournalTransaction.objects.annotate(n=Count("entries")).filter(n__lt=2).values_list("id", "n")
    for txn_id, n in too_few.iterator(chunk_size=5000):
        report.unbalanced_transactions.append({"problem": "too_few_entries", "transaction": str(txn_id), "entries": n})
    report.transactions_checked = JournalTransaction.objects.count()
    if record:
        ReconcileRun.objects.create(
            started_at=started,
            finished_at=timezone.now(),
            ok=report.ok,
            accounts_checked=report.accounts_checked,
            transactions_checked=report.transactions_checked,
            problems=report.problems[:100],
        )
    return report
