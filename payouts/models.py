"""Payouts of experts' earnings to their bank accounts: held on the wallet until the gateway says
paid (captured to payout clearing) or failed (released back)."""
from django.conf import settings
from django.db import models
from django.db.models import Q
from uuid6 import uuid7

from experts.models import BankDetail
from wallets.models import MONEY, Account, Hold


class Payout(models.Model):
    class Kind(models.TextChoices):
        MANUAL = "manual"
        MONTHLY = "monthly"

    class Status(models.TextChoices):
        PENDING = "pending"
        PROCESSING = "processing"
        PAID = "paid"
        FAILED = "failed"
        CANCELLED = "cancelled"
        REVERSED = "reversed"  # paid, then all of it came back (the bank or the connected account returned it)

    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    expert = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="payouts")
    wallet = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="+")
    amount = models.DecimalField(**MONEY)
    currency = models.CharField(max_length=4)
    kind = models.CharField(max_length=8, choices=Kind.choices)
    month = models.CharField(max_length=7, null=True, blank=True)  # YYYY-MM, monthly payouts only
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    payment_method = models.CharField(max_length=10)
    bank_account = models.ForeignKey(BankDetail, on_delete=models.PROTECT, related_name="payouts")
    hold = models.OneToOneField(Hold, on_delete=models.PROTECT, related_name="payout")
    provider_payout_id = models.CharField(max_length=100, null=True, blank=True)
    # Set, and committed, just before the gateway is first asked to pay: from then on the payout may be
    # paid whatever we do, so it can no longer be cancelled; only the gateway's answer settles it.
    submitted_at = models.DateTimeField(null=True, blank=True)
    # The gateway's answer as received, kept before it is applied (so a crash between the two loses nothing).
    gateway_answer = models.JSONField(null=True, blank=True)
    # Attempts at asking the gateway to pay, and who is asking now (one asker at a time: the request, a
    # monthly run or the sync may each take a stuck payout up). A refusal is final only on the first
    # attempt: after an unanswered one, the gateway may have made the payout anyway.
    gateway_attempts = models.PositiveSmallIntegerField(default=0)
    gateway_lease_until = models.DateTimeField(null=True, blank=True)
    # How much of a paid payout came back (credited to the wallet again); all of it: `reversed`.
    reversed_amount = models.DecimalField(**MONEY, default=0)
    failure_reason = models.CharField(max_length=255, blank=True, default="")
    retry_of = models.OneToOneField("self", null=True, blank=True, on_delete=models.PROTECT, related_name="retried_by")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        permissions = [
            ("retry_payout", "Can retry failed payouts"),
            ("cancel_payout", "Can cancel pending payouts"),
            ("run_monthly_payouts", "Can run monthly payouts"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="payout_amount_positive"),
            models.UniqueConstraint(
                fields=["expert", "month"],
                condition=Q(kind="monthly") & ~Q(status__in=["failed", "cancelled"]),
                name="payout_one_monthly_per_expert_month",
            ),
            models.CheckConstraint(
                condition=(Q(kind="monthly") & Q(month__isnull=False)) | (Q(kind="manual") & Q(month__isnull=True)),
                name="payout_month_only_for_monthly",
            ),
        ]
        indexes = [models.Index(fields=["status", "created_at"], name="payout_status_created_idx")]

    def __str__(self) -> str:
        return f"payout {self.id} {self.amount} {self.currency} ({self.status})"
