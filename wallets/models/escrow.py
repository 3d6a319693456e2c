"""TMR Land orders' escrow."""

from django.db import models
from django.db.models import Q
from uuid6 import uuid7

from wallets.models.fields import MONEY
from wallets.models.identity import Tenant, User
from wallets.models.ledger import Account, Hold
from wallets.money import CURRENCY_CHOICES


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
