"""Writes for experts: bank details."""
import re

from django.db import IntegrityError, transaction

from experts.models import BankDetail, ExpertProfile
from wallets.crypto import encrypt, keyed_hash, keyed_hashes
from wallets.errors import DomainError, ErrorCode
from wallets.events import event_emit
from wallets.models import User
from wallets.validation import invalid

IFSC = re.compile(r"[A-Z]{4}0[A-Z0-9]{6}")
# ASCII digits only: the same account must not be registrable twice in two scripts.
ACCOUNT_NUMBER = re.compile(r"[0-9]{9,18}")
STRIPE_ACCOUNT = re.compile(r"acct_[A-Za-z0-9]{1,59}")


def bank_detail_add(
    *,
    expert: User,
    bank_name: str,
    account_number: str,
    ifsc_code: str,
    account_holder_name: str,
    branch_name: str = "",
    stripe_account_id: str | None = None,
) -> BankDetail:
    """Add a bank account for the expert; the first one becomes primary."""
    account_number = (account_number or "").replace(" ", "")
    ifsc_code = (ifsc_code or "").strip()
    ifsc_code = ifsc_code.upper() if ifsc_code.isascii() else ifsc_code  # "ı".upper() is "I"
    if not ACCOUNT_NUMBER.fullmatch(account_number):
        raise invalid("accountNumber", "Must be 9 to 18 digits (0-9).")
    if stripe_account_id is not None and not STRIPE_ACCOUNT.fullmatch(stripe_account_id):
        raise invalid("stripeAccountId", "A Stripe connected account id, like acct_1Nv0FGQ9RKHgCVdK.")
    if not IFSC.fullmatch(ifsc_code):
        raise invalid("ifscCode", "Must be an IFSC code like HDFC0001234 (4 letters, 0, 6 letters or digits).")
    digest = keyed_hash(account_number, purpose="bank-account")
    # During a key rotation an older row may still carry its hash under the previous key.
    digests = keyed_hashes(account_number, purpose="bank-account")
    try:
        with transaction.atomic():
            # The expert's row lock makes "the first one is primary" exact under concurrency.
            User.objects.select_for_update().filter(pk=expert.pk).first()
            if BankDetail.objects.filter(expert=expert, account_number_hash__in=digests).exists():
                raise DomainError(ErrorCode.BANK_ACCOUNT_EXISTS, "This bank account is already registered for the expert.")
            bank = BankDetail.objects.create(
                expert=expert,
                bank_name=bank_name,
                account_number_encrypted=encrypt(account_number),
                account_number_hash=digest,
                account_last4=account_number[-4:],
                ifsc_code=ifsc_code,
                account_holder_name=account_holder_name,
                branch_name=branch_name or "",
                stripe_account_id=stripe_account_id,
                is_primary=not BankDetail.objects.filter(expert=expert).exists(),
            )
            event_emit(tenant=expert.tenant, type="bank_detail.added", obj=bank)
            return bank
    except IntegrityError:
        raise DomainError(ErrorCode.BANK_ACCOUNT_EXISTS, "This bank account is already registered for the expert.") from None


def expert_fee_percent(*, expert: User):
    """The expert's own platform fee rate, or None for the default. Reads no row when the caller
    fetched the profile with the expert (`select_related("expert__expert_profile")`)."""
    try:
        return expert.expert_profile.platform_fee_percent
    except ExpertProfile.DoesNotExist:
        return None
