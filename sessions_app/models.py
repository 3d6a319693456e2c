"""Consultation sessions: a fee held at start, adjusted on the way, settled once at the end."""
from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import Q
from uuid6 import uuid7

from wallets.models import MONEY, Account, Hold, JournalTransaction


class ConsultationSession(models.Model):
    class Status(models.TextChoices):
        ACTIVE = "active"
        SETTLED = "settled"
        CANCELLED = "cancelled"

    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="sessions_as_user")
    expert = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="sessions_as_expert")
    wallet = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="+")
    currency = models.CharField(max_length=4)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ACTIVE)
    session_fee = models.DecimalField(**MONEY)
    current_fee = models.DecimalField(**MONEY)
    # With a deferred fee the hold stays as it was and the difference is charged at settlement.
    fee_deferred = models.BooleanField(default=False)
    hold = models.OneToOneField(Hold, on_delete=models.PROTECT, related_name="session")
    actual_fee = models.DecimalField(**MONEY, null=True, blank=True)
    charged_amount = models.DecimalField(**MONEY, null=True, blank=True)
    expert_earning = models.DecimalField(**MONEY, null=True, blank=True)
    platform_fee = models.DecimalField(**MONEY, null=True, blank=True)
    fee_percent = models.DecimalField(max_digits=5, decimal_places=2, null=True, blank=True)
    settlement = models.OneToOneField(
        JournalTransaction, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    started_at = models.DateTimeField(auto_now_add=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(session_fee__gt=0, current_fee__gt=0), name="session_fees_positive"),
            models.CheckConstraint(condition=~Q(user=models.F("expert")), name="session_user_is_not_expert"),
        ]
        indexes = [models.Index(fields=["status", "started_at"], name="session_status_started_idx")]

    @property
    def held_amount(self) -> Decimal:
        return self.hold.remaining if self.status == self.Status.ACTIVE else Decimal(0)

    @property
    def deferred_amount(self) -> Decimal:
        if self.status != self.Status.ACTIVE:
            return Decimal(0)
        return max(self.current_fee - self.hold.remaining, Decimal(0))

    def __str__(self) -> str:
        return f"session {self.id} ({self.status})"
