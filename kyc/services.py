"""KYC: submit, and the finance staff's verdict."""
from django.db import IntegrityError, transaction
from django.utils import timezone

from kyc.models import KycSubmission
from wallets.crypto import encrypt
from wallets.errors import DomainError, ErrorCode
from wallets.events import event_emit
from wallets.models import User
from wallets.validation import invalid


def id_number_mask(value: str) -> str:
    """The id number with at most half of its characters shown, four stars standing for the rest:
    up to its last 4 and, for long numbers, leading ones up to 10 in all (`987654321012` ->
    `98****1012`). The seed's own format for 18-character national ids stays:
    `310101199001011234` -> `310101****1234`."""
    n = len(value)
    if n == 18:
        return f"{value[:6]}****{value[-4:]}"
    if n < 8:
        tail = max(n - 4, 0)
        return f"****{value[n - tail:] if tail else ''}"
    head = min(n // 2, 10) - 4
    return f"{value[:head]}****{value[-4:]}"


def _already() -> DomainError:
    return DomainError(ErrorCode.KYC_ALREADY_SUBMITTED, "KYC verification has already been submitted.")


def kyc_submit(*, user: User, full_name: str, id_type: str, id_number: str) -> KycSubmission:
    """A new submission, allowed when the user has none yet or the last one was rejected."""
    id_number = id_number.strip().replace(" ", "")
    try:
        with transaction.atomic():
            User.objects.select_for_update().filter(pk=user.pk).first()
            if KycSubmission.objects.filter(user=user).exclude(status=KycSubmission.Status.REJECTED).exists():
                raise _already()
            submission = KycSubmission.objects.create(
                user=user,
                full_name=full_name.strip(),
                id_type=id_type,
                id_number_encrypted=encrypt(id_number),
                id_number_masked=id_number_mask(id_number),
            )
            event_emit(tenant=user.tenant, type="kyc.submitted", kind="kyc", obj=submission)
            return submission
    except IntegrityError:
        raise _already() from None


def _review(submission_id, *, status: str, staff: User | None, reason: str = "") -> KycSubmission:
    with transaction.atomic():
        submission = KycSubmission.objects.select_for_update(of=("self",)).select_related("user__tenant").get(pk=submission_id)
        if submission.status != KycSubmission.Status.PENDING:
            raise DomainError(ErrorCode.KYC_NOT_PENDING, f"This submission is already {submission.status}.")
        now = timezone.now()
        submission.status = status
        submission.reviewed_by = staff
        submission.reviewed_at = now
        submission.verified_at = now if status == KycSubmission.Status.VERIFIED else None
        submission.rejection_reason = reason
        submission.save(update_fields=["status", "reviewed_by", "reviewed_at", "verified_at", "rejection_reason"])
        event_emit(tenant=submission.user.tenant, type=f"kyc.{status}", kind="kyc", obj=submission)
    return submission


def kyc_approve(*, submission_id, staff: User | None) -> KycSubmission:
    return _review(submission_id, status=KycSubmission.Status.VERIFIED, staff=staff)


def kyc_reject(*, submission_id, staff: User | None, reason: str) -> KycSubmission:
    if not reason or not reason.strip():
        raise invalid("reason", "A reason is required.")
    return _review(submission_id, status=KycSubmission.Status.REJECTED, staff=staff, reason=reason.strip()[:255])
