"""KYC submissions of TMR Land users: the id number encrypted at rest and kept masked for display."""
from django.conf import settings
from django.db import models
from uuid6 import uuid7


class KycSubmission(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending"
        VERIFIED = "verified"
        REJECTED = "rejected"

    class IdType(models.TextChoices):
        PASSPORT = "passport"
        NATIONAL_ID = "national_id"
        DRIVER_LICENSE = "driver_license"

    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="kyc_submissions")
    full_name = models.CharField(max_length=200)
    id_type = models.CharField(max_length=20, choices=IdType.choices)
    id_number_encrypted = models.TextField()
    id_number_masked = models.CharField(max_length=64)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    rejection_reason = models.CharField(max_length=255, blank=True, default="")
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    submitted_at = models.DateTimeField(auto_now_add=True)
    verified_at = models.DateTimeField(null=True, blank=True)
    reviewed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "KYC submission"
        ordering = ["-submitted_at"]
        permissions = [("review_kycsubmission", "Can approve or reject KYC submissions")]
        constraints = [
            # At most one submission in review or accepted per user; a rejected one may be followed.
            models.UniqueConstraint(
                fields=["user"], condition=~models.Q(status="rejected"), name="kyc_one_open_submission_per_user"
            )
        ]

    def __str__(self) -> str:
        return f"KYC {self.full_name} ({self.status})"
