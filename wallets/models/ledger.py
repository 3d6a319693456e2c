"""The ledger: accounts (user wallets and system accounts), journal transactions, their entries,
holds, archived months and their balances, and reconcile runs."""
import uuid
from datetime import datetime
from decimal import Decimal

from django.db import models
from django.db.models import Q
from uuid6 import uuid7

from wallets.models.fields import MONEY
from wallets.models.identity import Tenant, User
from wallets.money import CURRENCY_CHOICES
from wallets.validation import parse_month


class Account(models.Model):
    """A ledger account. Kind `wallet`: one per user and currency, with cached balances updated under
    a row lock. Kind `system`: gateway clearing, payout clearing, platform revenue, adjustments; split
    into stripes and never cached, so no single row is touched by every posting."""

    class Kind(models.TextChoices):
        WALLET = "wallet"
        SYSTEM = "system"

    class Status(models.TextChoices):
        ACTIVE = "active"
        SUSPENDED = "suspended"

    class System(models.TextChoices):
        GATEWAY_CLEARING = "gateway_clearing"
        PAYOUT_CLEARING = "payout_clearing"
        PLATFORM_REVENUE = "platform_revenue"
        ADJUSTMENTS = "adjustments"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    tenant = models.ForeignKey(Tenant, on_delete=models.PROTECT, related_name="accounts")
    kind = models.CharField(max_length=8, choices=Kind.choices, default=Kind.WALLET)
    user = models.ForeignKey(User, null=True, blank=True, on_delete=models.PROTECT, related_name="accounts")
    system_code = models.CharField(max_length=32, choices=System.choices, null=True, blank=True)
    stripe = models.PositiveSmallIntegerField(default=0)
    currency = models.CharField(max_length=4, choices=CURRENCY_CHOICES)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ACTIVE)
    # Cached totals: `balance` includes the held part; available = balance - held_balance.
    balance = models.DecimalField(**MONEY, default=Decimal("0"))
    held_balance = models.DecimalField(**MONEY, default=Decimal("0"))
    credit_limit = models.DecimalField(**MONEY, default=Decimal("0"))
    # Lines of the wallet's history (journal transactions that touched it), kept with the balance so
    # a history page needs no count over the wallet's entries.
    statement_lines = models.PositiveBigIntegerField(default=0)
    # A low-balance monitor watches this wallet: the posting engine says so, and only then are monitors read.
    monitored = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        permissions = [
            ("suspend_account", "Can suspend and reactivate wallets"),
            ("adjust_account", "Can post adjustments to wallets"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["user", "currency"], condition=Q(kind="wallet"), name="account_one_wallet_per_currency"
            ),
            models.UniqueConstraint(
                fields=["tenant", "system_code", "currency", "stripe"],
                condition=Q(kind="system"),
                name="account_system_stripe_unique",
            ),
            models.UniqueConstraint(fields=["id", "currency"], name="account_id_currency_unique"),
            models.CheckConstraint(condition=Q(held_balance__gte=0), name="account_held_non_negative"),
            models.CheckConstraint(condition=Q(credit_limit__gte=0), name="account_credit_limit_non_negative"),
            # `available >= -credit_limit` is checked in exact numeric by migration 0005.
            models.CheckConstraint(
                condition=(Q(kind="wallet", user__isnull=False, system_code__isnull=True))
                | Q(kind="system", user__isnull=True, system_code__isnull=False, balance=0, held_balance=0),
                name="account_kind_shape",
            ),
        ]

    @property
    def available_balance(self) -> Decimal:
        return self.balance - self.held_balance

    @property
    def is_wallet(self) -> bool:
        return self.kind == self.Kind.WALLET

    def __str__(self) -> str:
        if self.kind == self.Kind.SYSTEM:
            return f"system:{self.tenant_id}:{self.system_code}:{self.currency}#{self.stripe}"
        return f"wallet:{self.user_id}:{self.currency}"


class JournalTransaction(models.Model):
    """One money movement: two or more entries summing to zero per currency. Append-only."""

    class Kind(models.TextChoices):
        DEPOSIT = "deposit"
        WITHDRAWAL = "withdrawal"
        TRANSFER = "transfer"
        HOLD = "hold"
        CAPTURE = "capture"
        RELEASE = "release"
        SETTLEMENT = "settlement"
        REVERSAL = "reversal"
        ADJUSTMENT = "adjustment"

    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    kind = models.CharField(max_length=32, choices=Kind.choices)
    description = models.CharField(max_length=255, blank=True, default="")
    reference_type = models.CharField(max_length=32, null=True, blank=True)
    reference_id = models.CharField(max_length=64, null=True, blank=True)
    # A natural key (a gateway payment id, a settlement) that may be posted only once.
    external_key = models.CharField(max_length=128, null=True, blank=True)
    reverses = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="reversals", db_index=False
    )
    metadata = models.JSONField(default=dict, blank=True)
    created_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.PROTECT, related_name="+", db_index=False
    )
    created_at = models.DateTimeField()

    class Meta:
        # Partial unique indexes: most postings have neither key, and then pay for no index entry.
        constraints = [
            models.UniqueConstraint(
                fields=["external_key"], condition=Q(external_key__isnull=False), name="txn_external_key_unique"
            ),
            models.UniqueConstraint(fields=["reverses"], condition=Q(reverses__isnull=False), name="txn_reversed_once"),
        ]
        indexes = [
            models.Index(fields=["reference_type", "reference_id"], name="txn_reference_idx"),
            models.Index(fields=["created_at"], name="txn_created_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.id}"


class Entry(models.Model):
    """One leg of a journal transaction on one part (available or held) of one account. Append-only.

    `type` is what the leg means to the account's owner (deposit, freeze, credit, fee, ...);
    `balance_after`/`held_after` are the wallet's cached totals right after the posting (wallets only).
    """

    class Bucket(models.IntegerChoices):
        AVAILABLE = 0
        HELD = 1

    class Type(models.TextChoices):
        """What a leg means to the account's owner: the `type` of a history line in both dialects."""

        DEPOSIT = "deposit"
        WITHDRAWAL = "withdrawal"
        FREEZE = "freeze"
        UNFREEZE = "unfreeze"
        DEBIT = "debit"
        CREDIT = "credit"
        FEE = "fee"
        REFUND = "refund"
        ADJUSTMENT = "adjustment"

    id = models.BigAutoField(primary_key=True)
    transaction = models.ForeignKey(JournalTransaction, on_delete=models.PROTECT, related_name="entries")
    # On PostgreSQL the composite key (account, currency) -> account (migration 0002) checks that
    # the account exists and holds this currency; the (account, created_at, id) index serves lookups.
    account = models.ForeignKey(
        Account, on_delete=models.PROTECT, related_name="entries", db_index=False, db_constraint=False
    )
    currency = models.CharField(max_length=4, choices=CURRENCY_CHOICES)
    bucket = models.SmallIntegerField(choices=Bucket.choices, default=Bucket.AVAILABLE)
    amount = models.DecimalField(**MONEY)
    type = models.CharField(max_length=16, choices=Type.choices)
    balance_after = models.DecimalField(**MONEY, null=True, blank=True)
    held_after = models.DecimalField(**MONEY, null=True, blank=True)
    created_at = models.DateTimeField()

    class Meta:
        verbose_name_plural = "entries"
        constraints = [
            models.CheckConstraint(condition=~Q(amount=0), name="entry_amount_non_zero"),
        ]
        indexes = [
            # Covering (PostgreSQL): a history page and a balance at a point in time read the index only.
            models.Index(
                fields=["account", "created_at", "id"],
                name="entry_account_time_idx",
                include=["transaction", "bucket", "amount", "type", "balance_after", "held_after", "currency"],
            ),
        ]

    def __str__(self) -> str:
        return f"{self.amount} {self.currency} on {self.account_id}"


class LedgerArchive(models.Model):
    """A month of entries taken out of the live ledger (PostgreSQL: its partition of `wallets_entry`
    detached and kept as the table `table_name` for export). Months are archived oldest first; what
    the month's entries added up to stays in `ArchivedBalance`."""

    month = models.DateField(primary_key=True)  # its first day (UTC)
    table_name = models.CharField(max_length=63)
    entries = models.PositiveBigIntegerField()
    transactions = models.PositiveBigIntegerField()
    archived_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["month"]

    @property
    def bounds(self) -> tuple[datetime, datetime]:
        """[start, end) of the month, in UTC."""
        return parse_month(f"{self.month:%Y-%m}")

    def __str__(self) -> str:
        return self.month.strftime("%Y-%m")


class ArchivedBalance(models.Model):
    """An account's totals over every archived entry up to the end of `archive`'s month: its
    opening balance for the live entries after it. Every account with archived entries has a row in
    each later archive, so the latest archive alone holds all opening balances."""

    id = models.BigAutoField(primary_key=True)
    archive = models.ForeignKey(LedgerArchive, on_delete=models.PROTECT, related_name="balances")
    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="+", db_constraint=False)
    currency = models.CharField(max_length=4, choices=CURRENCY_CHOICES)
    balance = models.DecimalField(**MONEY)  # the sum of the archived entries, the held part included
    held = models.DecimalField(**MONEY)  # the sum of the archived entries on the held part
    lines = models.PositiveBigIntegerField()  # archived statement lines (journal transactions)
    entries = models.PositiveBigIntegerField()  # entries in this archive's month alone

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["archive", "account", "currency"], name="archived_balance_once"),
        ]


class Hold(models.Model):
    """Money moved from a wallet's available part to its held part, awaiting capture or release."""

    class Status(models.TextChoices):
        ACTIVE = "active"
        CAPTURED = "captured"
        RELEASED = "released"

    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="holds")
    currency = models.CharField(max_length=4, choices=CURRENCY_CHOICES)
    amount = models.DecimalField(**MONEY)
    captured = models.DecimalField(**MONEY, default=Decimal("0"))
    released = models.DecimalField(**MONEY, default=Decimal("0"))
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ACTIVE)
    reference_type = models.CharField(max_length=32, null=True, blank=True)
    reference_id = models.CharField(max_length=64, null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="hold_amount_positive"),
            models.CheckConstraint(condition=Q(captured__gte=0, released__gte=0), name="hold_parts_non_negative"),
            # `captured + released <= amount` is checked by PostgreSQL (migration 0005).
        ]
        indexes = [models.Index(fields=["reference_type", "reference_id"], name="hold_reference_idx")]

    @property
    def remaining(self) -> Decimal:
        return self.amount - self.captured - self.released


class ReconcileRun(models.Model):
    """The outcome of one `reconcile` run, for operators and the back-office dashboard."""

    id = models.BigAutoField(primary_key=True)
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField()
    ok = models.BooleanField()
    accounts_checked = models.PositiveIntegerField()
    transactions_checked = models.PositiveIntegerField()
    problems = models.JSONField(default=list)
