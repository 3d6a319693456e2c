"""The core tables: tenants (the marketplaces), users, ledger accounts (user wallets and system
accounts), journal transactions, their entries, holds, API keys and stored idempotent responses.

Ledger rules (SPEC §2) are enforced by the database where it can: CHECK constraints on accounts,
and on PostgreSQL triggers that refuse UPDATE/DELETE of ledger rows and an unbalanced transaction
at commit (see migrations). No business logic lives here; writes go through `wallets.services`.
"""
import json
import uuid
from datetime import datetime
from decimal import Decimal

import simplejson
from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.contrib.auth.models import PermissionsMixin
from django.db import models
from django.db.models import Q
from django.utils import timezone
from uuid6 import uuid7

from wallets.money import CURRENCY_CHOICES
from wallets.validation import parse_month

MONEY = {"max_digits": 24, "decimal_places": 6}


class ExactJSONEncoder(json.JSONEncoder):
    """Writes `Decimal` numbers digit for digit (`1.50` stays `1.50`), as the API received them."""

    def encode(self, o):
        return simplejson.dumps(o, use_decimal=True, ensure_ascii=False, allow_nan=False)

    def iterencode(self, o, _one_shot=False):
        yield self.encode(o)


class ExactJSONDecoder(json.JSONDecoder):
    """Reads numbers with a fraction as `Decimal`, so a stored document comes back as it was sent."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("parse_float", Decimal)
        super().__init__(*args, **kwargs)


class Tenant(models.Model):
    """One marketplace whose money this service keeps (WeBuddy, TMR Land, ...). It owns its users, its
    API keys and its system accounts (revenue, clearing, adjustments); nothing crosses tenants.

    `dialect` is the API its keys speak; `currencies` the wallets its users may hold, the first being
    the default; `platform_fee_percent` its cut of sessions and escrow releases (empty: the
    deployment's PLATFORM_FEE_PERCENT)."""

    class Dialect(models.TextChoices):
        WEBUDDY = "webuddy", "WeBuddy (/v1)"
        TMR = "tmr", "TMR Land (/api/v1/wallet)"

    code = models.SlugField(max_length=32, primary_key=True)
    name = models.CharField(max_length=100)
    dialect = models.CharField(max_length=16, choices=Dialect.choices)
    currencies = models.JSONField(default=list, help_text='Currency codes, the default first: ["USD", "USDC"].')
    platform_fee_percent = models.DecimalField(
        max_digits=5, decimal_places=2, null=True, blank=True,
        help_text="The platform's cut in percent; empty means the deployment's PLATFORM_FEE_PERCENT.",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["code"]
        constraints = [
            models.CheckConstraint(
                condition=Q(platform_fee_percent__isnull=True)
                | Q(platform_fee_percent__gte=0, platform_fee_percent__lte=100),
                name="tenant_fee_percent_range",
            ),
        ]

    @property
    def default_currency(self) -> str:
        return self.currencies[0]

    def __str__(self) -> str:
        return self.name


class UserManager(BaseUserManager):
    use_in_migrations = True

    def create_user(self, username=None, password=None, **extra):
        user = self.model(username=username or None, **extra)
        if password:
            user.set_password(password)
        else:
            user.set_unusable_password()
        user.save(using=self._db)
        return user

    def create_superuser(self, username, password=None, **extra):
        extra.setdefault("is_staff", True)
        extra.setdefault("is_superuser", True)
        return self.create_user(username=username, password=password, **extra)


class User(AbstractBaseUser, PermissionsMixin):
    """Anyone who owns money here: a WeBuddy user or expert, a TMR Land user, or staff."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    # Every user who can own money belongs to one marketplace; staff belong to none and own no wallet.
    tenant = models.ForeignKey(Tenant, null=True, blank=True, on_delete=models.PROTECT, related_name="users")
    username = models.CharField(max_length=150, unique=True, null=True, blank=True)
    phone_number = models.CharField(max_length=16, null=True, blank=True)
    name = models.CharField(max_length=200, blank=True, default="")
    max_credits = models.DecimalField(**MONEY, default=Decimal("0"))
    # A client's own document, kept exactly (`wallets.validation.json_document_check` decides what fits).
    settings = models.JSONField(default=dict, blank=True, encoder=ExactJSONEncoder, decoder=ExactJSONDecoder)
    is_staff = models.BooleanField(default=False)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = UserManager()

    USERNAME_FIELD = "username"
    REQUIRED_FIELDS: list[str] = []

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(max_credits__gte=0), name="user_max_credits_non_negative"),
            # A phone number names one user within a marketplace.
            models.UniqueConstraint(fields=["tenant", "phone_number"], name="user_phone_unique_per_tenant"),
            # Target of the wallets' (user, tenant) key on PostgreSQL: a wallet is in its owner's tenant.
            models.UniqueConstraint(fields=["id", "tenant"], name="user_id_tenant_unique"),
        ]

    def __str__(self) -> str:
        return self.name or self.username or self.phone_number or str(self.id)


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


class ApiKey(models.Model):
    """A partner or platform credential of one tenant, speaking its tenant's dialect (its scope).
    Only a SHA-256 of the secret is stored; the prefix finds it."""

    Scope = Tenant.Dialect

    id = models.BigAutoField(primary_key=True)
    tenant = models.ForeignKey(Tenant, on_delete=models.PROTECT, related_name="api_keys")
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=16, unique=True)
    key_hash = models.CharField(max_length=64)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "API key"

    @property
    def scope(self) -> str:
        """The dialect this key may call: its tenant's."""
        return self.tenant.dialect

    def __str__(self) -> str:
        return f"{self.name} ({self.tenant_id}, {self.prefix}…)"


class IdempotencyRecord(models.Model):
    """One (client, Idempotency-Key): created and committed before the request's work runs, holding a
    lease while it runs, the recovery point its phases reached, and at the end the response that is
    replayed for 24 hours."""

    id = models.BigAutoField(primary_key=True)
    client = models.CharField(max_length=64)
    key = models.CharField(max_length=255)
    request_hash = models.CharField(max_length=64)
    method = models.CharField(max_length=8)
    path = models.CharField(max_length=255)
    # The run that holds the record, and until when; a run whose lease ran out (its process died) may
    # be resumed by a retry.
    lease_token = models.UUIDField(null=True, blank=True)
    locked_until = models.DateTimeField(null=True, blank=True)
    recovery_point = models.CharField(max_length=32, default="started")
    recovery_data = models.JSONField(default=dict, blank=True)
    response_status = models.PositiveSmallIntegerField(null=True, blank=True)
    response_body = models.TextField(null=True, blank=True)  # the rendered JSON, replayed byte for byte
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField(db_index=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["client", "key"], name="idempotency_client_key_unique")]

    @property
    def finished(self) -> bool:
        return self.response_status is not None


class ReconcileRun(models.Model):
    """The outcome of one `reconcile` run, for operators and the back-office dashboard."""

    id = models.BigAutoField(primary_key=True)
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField()
    ok = models.BooleanField()
    accounts_checked = models.PositiveIntegerField()
    transactions_checked = models.PositiveIntegerField()
    problems = models.JSONField(default=list)


class Recharge(models.Model):
    """A payment into a wallet through a gateway: pending until the gateway confirms, credited once."""

    class Status(models.TextChoices):
        PENDING = "pending"
        SUCCEEDED = "succeeded"
        FAILED = "failed"

    class Method(models.TextChoices):
        RAZORPAY = "RAZORPAY"
        STRIPE = "STRIPE"

    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    user = models.ForeignKey(User, on_delete=models.PROTECT, related_name="recharges")
    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="recharges")
    amount = models.DecimalField(**MONEY)
    currency = models.CharField(max_length=4, choices=CURRENCY_CHOICES)
    payment_method = models.CharField(max_length=10, choices=Method.choices)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    provider_order_id = models.CharField(max_length=100, null=True, blank=True, unique=True)
    provider_payment_id = models.CharField(max_length=100, null=True, blank=True)
    # The one payment of the order we may capture (Razorpay), claimed before any capture call, so two
    # payments of one order are never both captured; any other is left uncaptured, for finance.
    capture_payment_id = models.CharField(max_length=100, null=True, blank=True)
    # What the payer's client needs to pay (live gateways: the order or PaymentIntent), and the
    # gateway's answer to our order as received, kept before it is applied.
    checkout = models.JSONField(default=dict, blank=True)
    gateway_answer = models.JSONField(null=True, blank=True)
    transaction = models.OneToOneField(
        JournalTransaction, null=True, blank=True, on_delete=models.PROTECT, related_name="recharge"
    )
    failure_reason = models.CharField(max_length=255, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.CheckConstraint(condition=Q(amount__gt=0), name="recharge_amount_positive")]


class Event(models.Model):
    """Something a client backend cares about happened (a recharge succeeded, a payout was paid, ...),
    written in the same transaction as the change, with `data` as the tenant's dialect renders the
    object. Events are numbered in commit order (`position`) once no earlier transaction can still
    add one before them, so the catch-up API and deliveries see them in order and miss none."""

    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    tenant = models.ForeignKey(Tenant, on_delete=models.PROTECT, related_name="events")
    type = models.CharField(max_length=40)
    data = models.JSONField(encoder=ExactJSONEncoder, decoder=ExactJSONDecoder)
    created_at = models.DateTimeField(auto_now_add=True)
    # PostgreSQL: the id of the transaction that wrote it (a column default); what the sequencer waits on.
    xid = models.BigIntegerField(db_default=models.Value(0))
    position = models.BigIntegerField(null=True, blank=True, unique=True)
    dispatched = models.BooleanField(default=False)  # fanned out to the tenant's webhook endpoints

    class Meta:
        indexes = [
            models.Index(fields=["tenant", "position"], name="event_tenant_position_idx"),
            models.Index(fields=["xid"], name="event_unsequenced_idx", condition=Q(position__isnull=True)),
            models.Index(fields=["position"], name="event_undispatched_idx", condition=Q(dispatched=False)),
            models.Index(fields=["created_at"], name="event_created_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.type} {self.id}"


class WebhookEndpoint(models.Model):
    """Where a tenant's backend wants its events: signed POSTs, retried until delivered."""

    class Status(models.TextChoices):
        ACTIVE = "active"
        DISABLED = "disabled"  # it kept failing: finance sees it, the tenant makes a new one
        DELETED = "deleted"

    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    tenant = models.ForeignKey(Tenant, on_delete=models.PROTECT, related_name="webhook_endpoints")
    url = models.URLField(max_length=500)
    events = models.JSONField(default=list, blank=True)  # event types; empty: all of the tenant's
    secret_encrypted = models.TextField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ACTIVE)
    disabled_reason = models.CharField(max_length=255, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "webhook endpoint"
        permissions = [("enable_webhookendpoint", "Can enable a disabled webhook endpoint again")]

    def __str__(self) -> str:
        return f"{self.tenant_id} {self.url} ({self.status})"


class Delivery(models.Model):
    """One event to one endpoint, attempted until a 2xx, or until WEBHOOK_RETRY_HOURS pass."""

    class Status(models.TextChoices):
        PENDING = "pending"
        DELIVERED = "delivered"
        FAILED = "failed"
        CANCELLED = "cancelled"

    id = models.BigAutoField(primary_key=True)
    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="deliveries")
    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=255, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    # Attempts go on until WEBHOOK_RETRY_HOURS after this (its creation, or finance's "send again").
    retrying_since = models.DateTimeField(default=timezone.now)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name_plural = "deliveries"
        permissions = [("resend_delivery", "Can send a webhook delivery again")]
        constraints = [models.UniqueConstraint(fields=["event", "endpoint"], name="delivery_once_per_endpoint")]
        indexes = [models.Index(fields=["status", "next_attempt_at"], name="delivery_due_idx")]


class DeliveryAttempt(models.Model):
    id = models.BigAutoField(primary_key=True)
    delivery = models.ForeignKey(Delivery, on_delete=models.CASCADE, related_name="attempt_log")
    attempted_at = models.DateTimeField()
    duration_ms = models.PositiveIntegerField(default=0)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    response_body = models.TextField(blank=True, default="")
    error = models.CharField(max_length=255, blank=True, default="")


class BalanceMonitor(models.Model):
    """`wallet.balance_low` when the wallet's available balance crosses below `below`: once, and
    again only after it has risen back to `below` or above (edge-triggered)."""

    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    tenant = models.ForeignKey(Tenant, on_delete=models.PROTECT, related_name="+")
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="monitors")
    below = models.DecimalField(**MONEY)
    armed = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.CheckConstraint(condition=Q(below__gte=0), name="monitor_below_non_negative")]


class GatewayEvent(models.Model):
    """A signed notification from a payment provider, recorded once by its event id: what it said,
    and what we did with it (applied, a replay, ignored, unknown to us, or a mismatch for finance)."""

    class Provider(models.TextChoices):
        RAZORPAY = "razorpay"
        STRIPE = "stripe"

    class Outcome(models.TextChoices):
        APPLIED = "applied"
        IGNORED = "ignored"  # already in that state, or a terminal status that never moves back
        UNKNOWN = "unknown"  # nothing of ours, or an event type we do not handle
        MISMATCH = "mismatch"  # money of another amount or currency than ours: not credited, for finance
        CONFLICT = "conflict"  # the provider contradicts a closed state (paid after failed, a second payment): for finance

    id = models.BigAutoField(primary_key=True)
    provider = models.CharField(max_length=10, choices=Provider.choices)
    event_id = models.CharField(max_length=128)
    event_type = models.CharField(max_length=64)
    outcome = models.CharField(max_length=10, choices=Outcome.choices)
    object_type = models.CharField(max_length=16, blank=True, default="")  # recharge | payout
    object_id = models.CharField(max_length=64, blank=True, default="")
    detail = models.CharField(max_length=255, blank=True, default="")
    payload = models.JSONField(default=dict)
    received_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["provider", "event_id"], name="gateway_event_once")]
        indexes = [models.Index(fields=["outcome", "received_at"], name="gateway_event_outcome_idx")]

    def __str__(self) -> str:
        return f"{self.provider} {self.event_type} {self.event_id} ({self.outcome})"


class LoginFailure(models.Model):
    """One failed login, counted per username and per client IP to throttle guessing."""

    id = models.BigAutoField(primary_key=True)
    username = models.CharField(max_length=150)
    ip = models.CharField(max_length=45)
    failed_at = models.DateTimeField(db_index=True)

    class Meta:
        indexes = [
            models.Index(fields=["username", "failed_at"], name="login_failure_user_idx"),
            models.Index(fields=["ip", "failed_at"], name="login_failure_ip_idx"),
        ]


class Escrow(models.Model):
    """Funds of a TMR Land order, frozen on the buyer's wallet until the order completes (released to
    the seller less the platform fee) or is cancelled (unfrozen back to the buyer)."""

    class Status(models.TextChoices):
        FROZEN = "frozen"
        RELEASED = "released"
        CANCELLED = "cancelled"

    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    # Order ids are the marketplace's own: unique within its tenant, invisible to others.
    tenant = models.ForeignKey(Tenant, on_delete=models.PROTECT, related_name="escrows")
    order_id = models.CharField(max_length=64)
    user = models.ForeignKey(User, on_delete=models.PROTECT, related_name="escrows")
    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="escrows")
    amount = models.DecimalField(**MONEY)
    currency = models.CharField(max_length=4, choices=CURRENCY_CHOICES)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.FROZEN)
    hold = models.OneToOneField(Hold, on_delete=models.PROTECT, related_name="escrow")
    payee = models.ForeignKey(User, null=True, blank=True, on_delete=models.PROTECT, related_name="escrow_payouts")
    fee = models.DecimalField(**MONEY, null=True, blank=True)
    payout_amount = models.DecimalField(**MONEY, null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="escrow_amount_positive"),
            models.UniqueConstraint(fields=["tenant", "order_id"], name="escrow_order_unique_per_tenant"),
        ]
