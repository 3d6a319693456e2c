"""Reads of payouts: a tenant's expert's wallet, a payout by id, and what a monthly payout would pay
(and the rule "one monthly payout per expert and month")."""
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.conf import settings
from django.utils import timezone

from experts.models import BankDetail
from payouts.models import Payout
from wallets import selectors
from wallets.errors import DomainError, ErrorCode
from wallets.models import Account, Tenant, User
from wallets.money import parse_amount
from wallets.selectors import wallet_balance_at
from wallets.validation import parse_id, parse_month


def payout_find(*, tenant: Tenant, payout_id) -> Payout:
    """The tenant's payout, or 404 `payout_not_found`."""
    payout = Payout.objects.filter(
        pk=parse_id(payout_id, ErrorCode.PAYOUT_NOT_FOUND, "No such payout."), wallet__tenant=tenant
    ).first()
    if payout is None:
        raise DomainError(ErrorCode.PAYOUT_NOT_FOUND, "No such payout.")
    return payout


def expert_wallet(tenant: Tenant, expert_id) -> Account:
    """The tenant's expert's wallet; 404 `expert_not_found` for anyone else (another tenant's too)."""
    try:
        return selectors.webuddy_wallet(tenant=tenant, user_id=expert_id)
    except DomainError as exc:
        if exc.code == ErrorCode.USER_NOT_FOUND and not User.objects.filter(pk=expert_id, tenant=tenant).exists():
            raise DomainError(ErrorCode.EXPERT_NOT_FOUND, "No such expert.") from None
        raise


def ended_month_end(month: str) -> datetime:
    """The end of `month` (YYYY-MM), which must be over (400 `month_not_ended` otherwise)."""
    _, end = parse_month(month)
    if end > timezone.now():
        raise DomainError(ErrorCode.MONTH_NOT_ENDED, f"{month} has not ended yet.")
    return end


@dataclass(frozen=True)
class MonthlyQuote:
    expert_id: object
    month: str
    currency: str
    amount: Decimal
    threshold: Decimal
    bank: BankDetail | None

    @property
    def payable(self) -> bool:
        return self.bank is not None and self.amount > 0 and self.amount >= self.threshold


def monthly_payout_exists(*, expert_id, month: str) -> bool:
    """The rule "one monthly payout per expert and month": one that is not failed or cancelled."""
    return Payout.objects.filter(expert_id=expert_id, kind=Payout.Kind.MONTHLY, month=month).exclude(
        status__in=[Payout.Status.FAILED, Payout.Status.CANCELLED]
    ).exists()


def monthly_payout_quote(*, tenant: Tenant, expert_id, month: str, threshold=None) -> MonthlyQuote:
    """What a monthly payout would pay: the available balance at the end of `month`, capped by the
    available balance now, to the expert's primary bank account."""
    wallet = expert_wallet(tenant, expert_id)
    end = ended_month_end(month)
    limit = settings.PAYOUT_THRESHOLD if threshold is None else parse_amount(
        threshold, wallet.currency, field="payoutThreshold", allow_zero=True
    )
    balance_then, held_then = wallet_balance_at(wallet=wallet, at=end)
    wallet.refresh_from_db()
    amount = max(min(balance_then - held_then, wallet.available_balance), Decimal(0))
    bank = BankDetail.objects.filter(expert_id=wallet.user_id, is_primary=True).first()
    return MonthlyQuote(
        expert_id=wallet.user_id, month=month, currency=wallet.currency, amount=amount, threshold=limit, bank=bank
    )
