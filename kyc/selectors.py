"""Reads of KYC submissions."""
from kyc.models import KycSubmission
from wallets.errors import DomainError, ErrorCode
from wallets.models import User


def kyc_latest(*, user: User) -> KycSubmission:
    """The user's latest submission, or 404 `kyc_not_found`."""
    submission = KycSubmission.objects.filter(user=user).order_by("-submitted_at").first()
    if submission is None:
        raise DomainError(ErrorCode.KYC_NOT_FOUND, "No KYC submission found for this user.")
    return submission
