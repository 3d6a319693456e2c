"""Stored idempotent requests."""

from django.db import models


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
