"""Staff adjustments: a credit or debit of a wallet against its tenant's adjustments account, with
the reason and the staff user on the journal transaction."""
from django.db import models

from wallets import ledger
from wallets.errors import DomainError, ErrorCode
from wallets.ledger import Posted
from wallets.models import Account, Entry, JournalTransaction, User
from wallets.money import parse_amount
from wallets.validation import invalid

System = Account.System


class AdjustmentDirection(models.TextChoices):
    CREDIT = "credit", "Credit the wallet"
    DEBIT = "debit", "Debit the wallet"


def wallet_adjust(
    *, wallet: Account, direction: str, amount, reason: str, staff: User, submission: str | None = None
) -> Posted:
    """A correction by finance staff: credit or debit the wallet's available balance against the
    adjustments system account, with the reason and the staff user on the journal transaction.
    A debit needs the money to be there (and the wallet active), like any other debit.
    `submission` (the form's one-time id) makes a resubmitted form a 409 `duplicate_external_key`."""
    if not reason or not reason.strip():
        raise invalid("reason", "A reason is required.")
    if direction not in AdjustmentDirection.values:
        raise invalid("direction", "Must be credit or debit.")
    if wallet.kind != Account.Kind.WALLET:
        raise DomainError(ErrorCode.WALLET_NOT_FOUND, "Adjustments are posted to user wallets only.")
    amount = parse_amount(amount, wallet.currency)
    signed = amount if direction == AdjustmentDirection.CREDIT else -amount
    return ledger.post(
        kind=JournalTransaction.Kind.ADJUSTMENT,
        legs=[
            ledger.wallet_leg(wallet, signed, Entry.Type.ADJUSTMENT),
            ledger.system_leg(wallet.tenant_id, System.ADJUSTMENTS, wallet.currency, -signed, Entry.Type.ADJUSTMENT),
        ],
        description=f"Adjustment: {reason.strip()}"[:255],
        reference_type=Entry.Type.ADJUSTMENT,
        external_key=None if submission is None else f"adjustment:{submission}",
        metadata={"reason": reason.strip(), "staff": str(staff.pk), "direction": direction},
        created_by=staff.pk,
    )

