"""Money in, out and across: deposits from and withdrawals to the tenant's system accounts, transfers
between two wallets, reversals, and the fee split. Each is one posting (`wallets.ledger.post`): one
transaction that locks the wallets in primary-key order and re-reads them under the lock."""
from decimal import ROUND_HALF_UP, Decimal
from uuid import UUID

from wallets import ledger
from wallets.errors import DomainError, ErrorCode
from wallets.ledger import Leg, Posted
from wallets.models import Account, Entry, JournalTransaction, User
from wallets.money import parse_amount, quantum
from wallets.validation import invalid

System = Account.System


def wallet_deposit(
    *,
    wallet: Account,
    amount,
    source: str = System.GATEWAY_CLEARING,
    description: str = "Deposit",
    reference_type: str | None = None,
    reference_id: str | None = None,
    external_key: str | None = None,
    metadata: dict | None = None,
    require_active: bool = True,
) -> Posted:
    """Credit the wallet from a system account (a payment gateway's clearing account by default).
    A suspended wallet is refused, unless the money has already been received (`require_active`
    False: a gateway's confirmation is credited whatever the wallet's status)."""
    amount = parse_amount(amount, wallet.currency)
    return ledger.post(
        kind=JournalTransaction.Kind.DEPOSIT,
        legs=[
            ledger.system_leg(wallet.tenant_id, source, wallet.currency, -amount, Entry.Type.DEPOSIT),
            ledger.wallet_leg(wallet, amount, Entry.Type.DEPOSIT, require_active=require_active),
        ],
        description=description,
        reference_type=reference_type,
        reference_id=reference_id,
        external_key=external_key,
        metadata=metadata,
    )


def wallet_withdraw(
    *,
    wallet: Account,
    amount,
    destination: str = System.PAYOUT_CLEARING,
    description: str = "Withdrawal",
    reference_type: str | None = None,
    reference_id: str | None = None,
    external_key: str | None = None,
) -> Posted:
    """Debit the wallet's available balance to a system account (payout clearing by default)."""
    amount = parse_amount(amount, wallet.currency)
    return ledger.post(
        kind=JournalTransaction.Kind.WITHDRAWAL,
        legs=[
            ledger.wallet_leg(wallet, -amount, Entry.Type.WITHDRAWAL),
            ledger.system_leg(wallet.tenant_id, destination, wallet.currency, amount, Entry.Type.WITHDRAWAL),
        ],
        description=description,
        reference_type=reference_type,
        reference_id=reference_id,
        external_key=external_key,
    )


def wallet_transfer(
    *,
    source: Account,
    destination: Account,
    amount,
    description: str = "Transfer",
    reference_type: str | None = None,
    reference_id: str | None = None,
) -> Posted:
    """Move money from one wallet's available balance to another wallet of the same currency."""
    if source.currency != destination.currency:
        raise DomainError(ErrorCode.CURRENCY_MISMATCH, "Both wallets must hold the same currency.")
    if source.tenant_id != destination.tenant_id:
        raise DomainError(ErrorCode.WALLET_NOT_FOUND, "The destination wallet does not exist.")
    if source.pk == destination.pk:
        raise DomainError(ErrorCode.VALIDATION_ERROR, "A wallet cannot transfer to itself.")
    amount = parse_amount(amount, source.currency)
    return ledger.post(
        kind=JournalTransaction.Kind.TRANSFER,
        legs=[ledger.wallet_leg(source, -amount, Entry.Type.DEBIT), ledger.wallet_leg(destination, amount, Entry.Type.CREDIT)],
        description=description,
        reference_type=reference_type,
        reference_id=reference_id,
    )


def transaction_reverse(*, transaction_id: UUID, reason: str, created_by: User | None = None) -> Posted:
    """Post the exact opposite of a transaction. The original stays; each is reversed at most once."""
    if not reason or not reason.strip():
        raise invalid("reason", "A reason is required.")
    try:
        original = JournalTransaction.objects.get(pk=transaction_id)
    except JournalTransaction.DoesNotExist:
        raise DomainError(ErrorCode.TRANSACTION_NOT_FOUND, "No such transaction.") from None
    if original.reverses_id is not None:
        raise DomainError(ErrorCode.VALIDATION_ERROR, "A reversal cannot itself be reversed; post a new transaction.")
    if JournalTransaction.objects.filter(reverses=original).exists():
        # Checked first for a clear answer; the unique `reverses` column still decides a race.
        raise DomainError(ErrorCode.ALREADY_REVERSED, "This transaction has already been reversed.")
    entries = list(
        Entry.objects.filter(transaction=original).select_related("account").order_by("id")
    )
    if not entries:  # its month is archived (wallets/services/partitions.py): out of the live ledger
        raise DomainError(ErrorCode.VALIDATION_ERROR,
                          "This transaction's month is archived; post a correcting transaction instead.")
    legs = [
        Leg(
            account_id=entry.account_id,
            currency=entry.currency,
            amount=-entry.amount,
            type=Entry.Type.REFUND if entry.amount < 0 else Entry.Type.ADJUSTMENT,
            bucket=entry.bucket,
            is_wallet=entry.account.kind == Account.Kind.WALLET,
        )
        for entry in entries
    ]
    return ledger.post(
        kind=JournalTransaction.Kind.REVERSAL,
        legs=legs,
        description=f"Reversal: {reason.strip()}"[:255],
        reference_type="transaction",
        reference_id=str(original.id),
        reverses=original.id,
        created_by=None if created_by is None else created_by.pk,
    )


def fee_split(amount: Decimal, percent: Decimal, currency: str) -> tuple[Decimal, Decimal]:
    """(payee's part, platform fee) of `amount`; the fee is rounded half up to the currency."""
    fee = (amount * Decimal(percent) / 100).quantize(quantum(currency), rounding=ROUND_HALF_UP)
    return amount - fee, fee

