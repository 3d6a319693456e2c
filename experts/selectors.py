"""Reads of experts: a tenant's user as an expert, and their bank details."""
from experts.models import BankDetail
from wallets.errors import DomainError, ErrorCode
from wallets.models import Tenant, User
from wallets.validation import parse_id


def expert_find(*, tenant: Tenant, expert_id) -> User:
    """The tenant's user as an expert, or 404 `expert_not_found` (also for another tenant's user)."""
    expert = User.objects.filter(pk=parse_id(expert_id, ErrorCode.EXPERT_NOT_FOUND, "No such expert."), tenant=tenant).first()
    if expert is None:
        raise DomainError(ErrorCode.EXPERT_NOT_FOUND, "No such expert.")
    return expert


def bank_details_of(*, expert: User) -> list[BankDetail]:
    return list(BankDetail.objects.filter(expert=expert).order_by("created_at"))
