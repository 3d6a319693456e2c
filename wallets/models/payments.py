"""Money in through the gateways: recharges, and the provider notifications received."""

from django.db import models
from django.db.models import Q
from uuid6 import uuid7

from wallets.models.fields import MONEY
from wallets.models.identity import User
from wallets.models.ledger import Account, JournalTransaction
from wallets.money import CURRENCY_CHOICES


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
