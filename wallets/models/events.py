"""Outbound events: the outbox, the tenants' webhook endpoints, deliveries and their attempts,
and balance monitors."""

from django.db import models
from django.db.models import Q
from django.utils import timezone
from uuid6 import uuid7

from wallets.models.fields import MONEY, ExactJSONDecoder, ExactJSONEncoder
from wallets.models.identity import Tenant
from wallets.models.ledger import Account


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
