"""Reads of wallets and the ledger: a user's wallet, history pages, point-in-time balances, system
account totals, reconciliation."""
from dataclasses import dataclass, field
from datetime import datetime
from datetime import timezone as dt_timezone
from decimal import Decimal

from django.db import connection, connections, router
from django.db.models import Count, DecimalField, F, Max, Min, Q, Sum, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from wallets.errors import DomainError, ErrorCode
from wallets.models import (
    Account,
    ArchivedBalance,
    Entry,
    JournalTransaction,
    LedgerArchive,
    Recharge,
    ReconcileRun,
    Tenant,
    User,
)
from wallets.money import currency_exponent
from wallets.validation import parse_id

MONEY_FIELD = DecimalField(max_digits=24, decimal_places=6)
ZERO = Value(Decimal(0), output_field=MONEY_FIELD)


def user_find(*, tenant: Tenant, user_id) -> User:
    """The tenant's user, or 404 `user_not_found` (also for another tenant's user or a malformed id)."""
    user = User.objects.select_related("tenant").filter(pk=parse_id(user_id, ErrorCode.USER_NOT_FOUND, "No such user."),
                                                        tenant=tenant).first()
    if user is None:
        raise DomainError(ErrorCode.USER_NOT_FOUND, "No such user.")
    return user


def user_default_wallet(*, user: User) -> Account | None:
    """The user's wallet in their tenant's default currency (None if it was never opened)."""
    return Account.objects.filter(
        kind=Account.Kind.WALLET, tenant_id=user.tenant_id, user=user, currency=user.tenant.default_currency
    ).first()


def user_wallets(*, tenant: Tenant, user: User, currency: str | None = None) -> list[Account]:
    """The user's wallets in the tenant (in one currency, if given), oldest first."""
    wallets = Account.objects.filter(kind=Account.Kind.WALLET, tenant=tenant, user=user)
    if currency is not None:
        wallets = wallets.filter(currency=currency)
    return list(wallets.order_by("created_at"))


def recharge_find(*, tenant: Tenant, recharge_id) -> Recharge:
    """The tenant's recharge with its wallet, or 404 `recharge_not_found`."""
    recharge = (
        Recharge.objects.select_related("account")
        .filter(pk=parse_id(recharge_id, ErrorCode.RECHARGE_NOT_FOUND, "No such recharge."), account__tenant=tenant)
        .first()
    )
    if recharge is None:
        raise DomainError(ErrorCode.RECHARGE_NOT_FOUND, "No such recharge.")
    return recharge


def user_wallet(*, tenant: Tenant, user_id, currency: str) -> Account:
    """The tenant's user's wallet in `currency`, or 404 `wallet_not_found`."""
    currency_exponent(currency)
    wallet = Account.objects.filter(kind=Account.Kind.WALLET, tenant=tenant, user_id=user_id, currency=currency).first()
    if wallet is None:
        raise DomainError(ErrorCode.WALLET_NOT_FOUND, f"No {currency} wallet for this user.")
    return wallet


def webuddy_wallet(*, tenant: Tenant, user_id) -> Account:
    """The tenant's user's wallet in the tenant's default currency, or 404 `user_not_found`."""
    wallet = (
        Account.objects.select_related("user")
        .filter(kind=Account.Kind.WALLET, tenant=tenant, user_id=user_id, currency=tenant.default_currency)
        .first()
    )
    if wallet is None:
        raise DomainError(ErrorCode.USER_NOT_FOUND, "No such user.")
    return wallet



def wallet_balance_at(*, wallet: Account, at: datetime) -> tuple[Decimal, Decimal]:
    """(balance, held) of a wallet as of `at`, from its last entry at or before that moment.

    Each wallet's entries are written under its row lock with the time taken after the lock, so the
    last entry's `balance_after` is the balance at that moment; one index probe answers it. With
    no live entry by then, the archived months answer (`archived_balance_at`).
    """
    last = (
        Entry.objects.filter(account=wallet, created_at__lte=at)
        .order_by("-created_at", "-id")
        .values_list("balance_after", "held_after")
        .first()
    )
    return last if last is not None else archived_balance_at(account_id=wallet.id, at=at)


def wallet_balance_at_from_sums(*, wallet: Account, at: datetime) -> tuple[Decimal, Decimal]:
    """The same answer summed from the entries themselves (used to cross-check the fast path)."""
    sums = Entry.objects.filter(account=wallet, created_at__lte=at).aggregate(
        total=Coalesce(Sum("amount"), ZERO),
        held=Coalesce(Sum("amount", filter=Q(bucket=Entry.Bucket.HELD)), ZERO),
    )
    archived_total, archived_held = archived_balance_at(account_id=wallet.id, at=at)
    return sums["total"] + archived_total, sums["held"] + archived_held


def archived_balance_at(*, account_id, at: datetime) -> tuple[Decimal, Decimal]:
    """(balance, held) of an account from its archived entries at or before `at`: its totals at the
    end of the last archived month over by then, plus, if `at` falls in an archived month, that
    month's entries up to `at` read from the month's archive table (refused once it is dropped).
    Zero when nothing is archived."""
    at = at.astimezone(dt_timezone.utc)
    ended, within = None, None
    for archive in LedgerArchive.objects.filter(month__lte=at.date()).order_by("-month")[:2]:
        start, end = archive.bounds
        if end <= at:
            ended = ended or archive
        elif start <= at:
            within = archive
    total, held = Decimal(0), Decimal(0)
    if ended is not None:
        opening = ArchivedBalance.objects.filter(archive=ended, account_id=account_id).aggregate(
            total=Coalesce(Sum("balance"), ZERO), held=Coalesce(Sum("held"), ZERO)
        )
        total, held = opening["total"], opening["held"]
    if within is not None:
        with connection.cursor() as cursor:
            cursor.execute("SELECT to_regclass(%s)", [within.table_name])
            if cursor.fetchone()[0] is None:
                raise DomainError(
                    ErrorCode.VALIDATION_ERROR,
                    f"The entries of {within} are archived and their table is gone: balances are known at the month's end.",
                )
            cursor.execute(
                f"SELECT coalesce(sum(amount), 0), coalesce(sum(amount) FILTER (WHERE bucket = %s), 0) "
                f"FROM {connection.ops.quote_name(within.table_name)} WHERE account_id = %s AND created_at <= %s",
                [int(Entry.Bucket.HELD), account_id, at],
            )
            month_total, month_held = cursor.fetchone()
        total, held = total + month_total, held + month_held
    return total, held


def archived_opening_balances():
    """Every account's totals over all archived entries: the rows of the latest archive (each
    archive carries the earlier ones' forward), or none."""
    latest = LedgerArchive.objects.order_by("-month").first()
    return ArchivedBalance.objects.filter(archive=latest) if latest else ArchivedBalance.objects.none()


def wallet_statement(*, wallet: Account | None = None, wallets=None, entries=None):
    """History of one wallet (or several): one line per journal transaction and wallet, newest first.

    A transaction may touch a wallet twice (its available and held parts); the line sums them.
    `entries` may be a pre-filtered Entry queryset (by type or time); all of a wallet's legs in one
    transaction share their type and time, so such filters keep lines whole.
    """
    entries = Entry.objects.all() if entries is None else entries
    if wallet is not None:
        entries = entries.filter(account=wallet)
    elif len(wallets) == 1:
        entries = entries.filter(account=wallets[0])
    else:
        entries = entries.filter(account__in=wallets)
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


@dataclass(frozen=True)
class StatementPage:
    lines: list[dict]
    total: int


def wallet_history(*, wallets: list[Account], entries=None, offset: int, limit: int) -> StatementPage:
    """One page of the history of `wallets` (newest first) with the number of lines in all.

    Unfiltered (`entries` None), the wallets' own line counters give the total without counting
    entries; an offset past the end answers an empty page without reading any.
    """
    if entries is None:
        total = sum(wallet.statement_lines for wallet in wallets)
    else:
        total = wallet_statement(wallets=wallets, entries=entries).count()
    if not wallets or offset >= total:
        return StatementPage(lines=[], total=total)
    currencies = {wallet.id: wallet.currency for wallet in wallets}
    if entries is None and len(wallets) == 1:
        lines = _statement_page(wallets[0].id, offset, limit)
    else:
        lines = wallet_statement(wallets=wallets, entries=entries)[offset : offset + limit]
    return StatementPage(
        lines=[statement_line({**row, "currency": currencies[row["account_id"]]}) for row in lines], total=total
    )


_STATEMENT_COLUMNS = ("created_at", "transaction_id", "account_id", "currency", "total", "held", "type",
                      "balance_after", "description", "reference_type", "reference_id")
# wallet_statement's query for one wallet's unfiltered page, written out (the hottest read: the ORM
# spent more time building it than PostgreSQL spends answering it) in the PL/pgSQL function
# `ledger_statement_page` (migration 0026), which keeps its plan per server session: planning it over
# every monthly partition of entries costs more than running it. tests/ledger/test_statement_page.py
# holds the two equal.
def _statement_page(account_id, offset: int, limit: int) -> list[dict]:
    connection = connections[router.db_for_read(Entry)]  # the replica's, where the page may lag
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM ledger_statement_page(%s, %s::smallint, %s, %s)",
                       [account_id, int(Entry.Bucket.HELD), limit, offset])
        return [dict(zip(_STATEMENT_COLUMNS, row)) for row in cursor.fetchall()]


def statement_line(row: dict) -> dict:
    """Amount and direction of a statement line: the change of the wallet's balance, or for a
    freeze/unfreeze (which leaves the balance as it is) the change of its available part."""
    change = row["total"] if row["total"] != 0 else row["total"] - row["held"]
    return {**row, "amount": abs(change), "direction": "credit" if change > 0 else "debit"}


def system_account_balance(*, tenant, code: str, currency: str) -> Decimal:
    """A tenant's system account balance: the sum of the entries of all its stripes (archived ones included)."""
    live = Entry.objects.filter(
        account__kind=Account.Kind.SYSTEM, account__tenant=tenant, account__system_code=code, currency=currency
    ).aggregate(total=Coalesce(Sum("amount"), ZERO))["total"]
    archived = archived_opening_balances().filter(
        account__kind=Account.Kind.SYSTEM, account__tenant=tenant, account__system_code=code, currency=currency
    ).aggregate(total=Coalesce(Sum("balance"), ZERO))["total"]
    return live + archived


@dataclass
class TenantReport:
    """What reconcile found for one tenant: its accounts, its transactions, the sum of its ledger per
    currency (zero when nothing was created or lost) and its problems."""

    accounts: int = 0
    transactions: int = 0
    sums: dict = field(default_factory=dict)
    problems: list[dict] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


@dataclass
class ReconcileReport:
    accounts_checked: int = 0
    transactions_checked: int = 0
    balance_mismatches: list[dict] = field(default_factory=list)
    unbalanced_transactions: list[dict] = field(default_factory=list)
    tenants: dict[str, TenantReport] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.balance_mismatches and not self.unbalanced_transactions

    @property
    def problems(self) -> list[dict]:
        return self.balance_mismatches + self.unbalanced_transactions

    def tenant(self, code) -> TenantReport:
        return self.tenants.setdefault(code, TenantReport())

    def add(self, kind: str, problem: dict, tenant=None) -> None:
        """Record a problem: `kind` "balance" or "transaction", with the tenant it belongs to."""
        if tenant is not None:
            problem = {**problem, "tenant": tenant}
            self.tenant(tenant).problems.append(problem)
        (self.balance_mismatches if kind == "balance" else self.unbalanced_transactions).append(problem)


def ledger_reconcile(*, record: bool = True) -> ReconcileReport:
    """Recompute every cached balance from entries and every transaction's sums per currency, and
    check that tenants stay apart: each tenant's ledger sums to zero in every currency, no journal
    transaction touches two tenants, and every wallet is in its owner's tenant.

    Each check is one aggregate pass that returns only problems (or one row per tenant and
    currency), so time grows linearly with the ledger and memory with the number of accounts.
    Archived months count through their opening balances (`ArchivedBalance`): each was checked
    whole by the database when its transactions were posted.
    """
    from wallets.models import Tenant

    started = timezone.now()
    report = ReconcileReport()
    for code in Tenant.objects.order_by("code").values_list("code", flat=True):
        report.tenant(code)
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
    opening = archived_opening_balances().values_list("account_id", "currency", "balance", "held", "lines")
    for account_id, currency, archived_total, archived_held, archived_lines in opening.iterator(chunk_size=5000):
        total, held = sums.get(account_id, (Decimal(0), Decimal(0)))
        sums[account_id] = (total + archived_total, held + archived_held)
        lines[account_id] = lines.get(account_id, 0) + archived_lines
        entry_currencies.setdefault(account_id, set()).add(currency)
    for row in per_account.iterator(chunk_size=5000):
        total, held = sums.get(row["account_id"], (Decimal(0), Decimal(0)))
        sums[row["account_id"]] = (total + row["total"], held + row["held"])
        lines[row["account_id"]] = lines.get(row["account_id"], 0) + row["lines"]
        entry_currencies.setdefault(row["account_id"], set()).add(row["currency"])
    accounts = Account.objects.values_list(
        "id", "tenant_id", "kind", "currency", "balance", "held_balance", "statement_lines"
    ).order_by()
    known = set()
    for account_id, tenant, kind, currency, balance, held, statement_lines in accounts.iterator(chunk_size=5000):
        known.add(account_id)
        report.accounts_checked += 1
        report.tenant(tenant).accounts += 1
        if kind == Account.Kind.WALLET and statement_lines != lines.get(account_id, 0):
            report.add("balance", {
                "problem": "statement_lines_mismatch",
                "account": str(account_id),
                "cached_lines": statement_lines,
                "entries_lines": lines.get(account_id, 0),
            }, tenant)
        if entry_currencies.get(account_id, {currency}) != {currency}:
            report.add("balance", {"problem": "entry_currency_mismatch", "account": str(account_id), "currency": currency},
                       tenant)
        total, entries_held = sums.get(account_id, (Decimal(0), Decimal(0)))
        if kind == Account.Kind.SYSTEM:
            # System accounts keep no cached balance: theirs must stay zero, whatever their entries say.
            total, entries_held = Decimal(0), Decimal(0)
        if balance != total or held != entries_held:
            report.add("balance", {
                "problem": "balance_mismatch",
                "account": str(account_id),
                "cached_balance": str(balance),
                "entries_balance": str(total),
                "cached_held": str(held),
                "entries_held": str(entries_held),
            }, tenant)
    for account_id in set(sums) - known:
        report.add("balance", {"problem": "entries_without_account", "account": str(account_id)})
    strays = Account.objects.filter(kind=Account.Kind.WALLET).exclude(tenant_id=F("user__tenant_id"))
    for account_id, tenant in strays.values_list("id", "tenant_id").iterator(chunk_size=5000):
        report.add("balance", {"problem": "wallet_outside_owners_tenant", "account": str(account_id)}, tenant)

    unbalanced = (
        Entry.objects.values("transaction_id", "currency")
        .annotate(total=Sum("amount"))
        .exclude(total=0)
        .order_by()
    )
    for row in unbalanced.iterator(chunk_size=5000):
        report.add("transaction", {
            "problem": "unbalanced_transaction",
            "transaction": str(row["transaction_id"]),
            "currency": row["currency"],
            "sum": str(row["total"]),
        })
    live_transactions = JournalTransaction.objects.all()
    latest_archive = LedgerArchive.objects.order_by("-month").first()
    if latest_archive is not None:  # an archived month's transactions have their entries in its archive
        live_transactions = live_transactions.filter(created_at__gte=latest_archive.bounds[1])
    too_few = live_transactions.annotate(n=Count("entries")).filter(n__lt=2).values_list("id", "n")
    for txn_id, n in too_few.iterator(chunk_size=5000):
        report.add("transaction", {"problem": "too_few_entries", "transaction": str(txn_id), "entries": n})
    crossing = (
        Entry.objects.values("transaction_id")
        .annotate(tenants=Count("account__tenant", distinct=True))
        .filter(tenants__gt=1)
        .order_by()
    )
    for row in crossing.iterator(chunk_size=5000):
        report.add("transaction", {"problem": "transaction_crosses_tenants", "transaction": str(row["transaction_id"])})

    per_tenant = Entry.objects.values("account__tenant", "currency").annotate(total=Sum("amount")).order_by()
    archived_per_tenant = archived_opening_balances().values("account__tenant", "currency").annotate(
        total=Sum("balance")
    ).order_by()
    for row in [*archived_per_tenant, *per_tenant.iterator(chunk_size=5000)]:
        tenant_sums = report.tenant(row["account__tenant"]).sums
        tenant_sums[row["currency"]] = tenant_sums.get(row["currency"], Decimal(0)) + row["total"]
    for tenant, report_of_tenant in list(report.tenants.items()):
        for currency, total in report_of_tenant.sums.items():
            if total != 0:
                report.add("transaction", {
                    "problem": "tenant_ledger_unbalanced", "currency": currency, "sum": str(total),
                }, tenant)
    per_tenant_txns = (
        Entry.objects.values("account__tenant").annotate(n=Count("transaction_id", distinct=True)).order_by()
    )
    for row in per_tenant_txns:
        report.tenant(row["account__tenant"]).transactions = row["n"]
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
