"""Experts' payout details: bank accounts (number encrypted, masked, deduplicated) and their own
platform fee rate."""
import uuid
from decimal import Decimal

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q


class ExpertProfile(models.Model):
    """What is particular to a user acting as an expert."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, primary_key=True, on_delete=models.CASCADE, related_name="expert_profile")
    # The platform's cut of this expert's sessions; empty means PLATFORM_FEE_PERCENT.
    platform_fee_percent = models.DecimalField(
        max_digits=5,
        decimal_places=2,
        null=True,
        blank=True,
        validators=[MinValueValidator(Decimal(0)), MaxValueValidator(Decimal(100))],
    )

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(platform_fee_percent__isnull=True)
                | Q(platform_fee_percent__gte=0, platform_fee_percent__lte=100),
                name="expert_fee_percent_range",
            )
        ]

    def __str__(self) -> str:
        return f"expert {self.user}"


class BankDetail(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    expert = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="bank_details")
    bank_name = models.CharField(max_length=100)
    account_number_encrypted = models.TextField()
    account_number_hash = models.CharField(max_length=64)
    account_last4 = models.CharField(max_length=4)
    ifsc_code = models.CharField(max_length=11)
    account_holder_name = models.CharField(max_length=150)
    branch_name = models.CharField(max_length=150, blank=True, default="")
    is_primary = models.BooleanField(default=False)
    # Stripe Connect: the expert's connected account, for STRIPE payouts (transfers).
    stripe_account_id = models.CharField(max_length=64, null=True, blank=True)
    # RazorpayX: the contact and fund account made for this bank account, once, at its first payout.
    razorpay_contact_id = models.CharField(max_length=64, null=True, blank=True)
    razorpay_fund_account_id = models.CharField(max_length=64, null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at"]
        constraints = [
            models.UniqueConstraint(fields=["expert", "account_number_hash"], name="bank_detail_unique_per_expert"),
            models.UniqueConstraint(fields=["expert"], condition=Q(is_primary=True), name="bank_detail_one_primary"),
        ]

    @property
    def masked_account_number(self) -> str:
        return f"XXXXXX{self.account_last4}"

    def __str__(self) -> str:
        return f"{self.bank_name} {self.masked_account_number}"
