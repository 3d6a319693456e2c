"""Writes to wallets and the ledger: one function per state change, each one transaction.

Every money movement goes through `wallets.ledger.post`, which locks wallet rows in primary-key
order and re-reads balances under the lock. Functions take keyword-only arguments and raise
`DomainError` on any refusal, leaving every balance as it was.
"""
from dataclasses import dataclass
from decimal import Decimal
from uuid import UUID

from django.db import IntegrityError, transaction

from wallets import ledger
from wallets.errors import DomainError, ErrorCode
from wallets.ledger import AVAILABLE, HELD, Leg, Posted
from wallets.models import Account, ApiKey, Entry, Hold, JournalTransaction, User
from wallets.money import currency_exponent, parse_amount

System = Account.System


def _amount(amount, currency: str) -> Decimal:
    return parse_amount(amount, currency)


def _wallet_leg(wallet: Account, amount: Decimal, type: str, bucket: int = AVAILABLE, **kw) -> Leg:
    return Leg(account_id=wallet.id, currency=wallet.currency, amount=amount, type=type, bucket=bucket, **kw)


def _system_leg(code: str, currency: str, amount: Decimal, type: str) -> Leg:
    return Leg(
        account_id=ledger.system_account(code, currency),
        currency=currency,
        amount=amount,
        type=type,
        is_wallet=False,
    )


# Wallets


def wallet_create(*, user: User, currency: str, credit_limit: Decimal = Decimal(0)) -> Account:
    """Open the user's wallet in `currency`; 409 `wallet_exists` if it is already open."""
    currency_exponent(currency)
    try:
        with transaction.atomic():
            return Account.objects.create(
                kind=Account.Kind.WALLET, user=user, currency=currency, credit_limit=credit_limit
            )
    except IntegrityError:
        raise DomainError(ErrorCode.WALLET_EXISTS, f"The user already has a {currency} wallet.") from None


def wallet_get_or_create(*, user: User, currency: str, credit_limit: Decimal = Decimal(0)) -> Account:
    currency_exponent(currency)
    wallet = Account.objects.filter(kind=Account.Kind.WALLET, user=user, currency=currency).first()
    if wallet is not None:
        return wallet
    try:
        return wallet_create(user=user, currency=currency, credit_limit=credit_limit)
    except DomainError:  # created concurrently
        return Account.objects.get(kind=Account.Kind.WALLET, user=user, currency=currency)


def _wallet_set(*, wallet: Account, **changes) -> Account:
    with transaction.atomic():
        locked = Account.objects.select_for_update().get(pk=wallet.pk)
        for name, value in changes.items():
            setattr(locked, name, value)
        locked.save(update_fields=[*changes, "updated_at"])
    return locked


def wallet_suspend(*, wallet: Account) -> Account:
    return _wallet_set(wallet=wallet, status=Account.Status.SUSPENDED)


def wallet_reactivate(*, wallet: Account) -> Account:
    return _wallet_set(wallet=wallet, status=Account.Status.ACTIVE)


def wallet_set_credit_limit(*, wallet: Account, credit_limit: Decimal) -> Account:
    limit = parse_amount(credit_limit, wallet.currency, field="credit_limit", allow_zero=True)
    return _wallet_set(wallet=wallet, credit_limit=limit)


# Money in, out and across


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
) -> Posted:
    """Credit the wallet from a system account (a payment gateway's clearing account by default)."""
    amount = _amount(amount, wallet.currency)
    return ledger.post(
        kind="deposit",
        legs=[
            _system_leg(source, wallet.currency, -amount, "deposit"),
            _wallet_leg(wallet, amount, "deposit", require_active=True),
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
    amount = _amount(amount, wallet.currency)
    return ledger.post(
        kind="withdrawal",
        legs=[
            _wallet_leg(wallet, -amount, "withdrawal"),
            _system_leg(destination, wallet.currency, amount, "withdrawal"),
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
    if source.pk == destination.pk:
        raise DomainError(ErrorCode.VALIDATION_ERROR, "A wallet cannot transfer to itself.")
    amount = _amount(amount, source.currency)
    return ledger.post(
        kind="transfer",
        legs=[_wallet_leg(source, -amount, "debit"), _wallet_leg(destination, amount, "credit")],
        description=description,
        reference_type=reference_type,
        reference_id=reference_id,
    )


# Holds: transfers between a wallet's available and held parts


@dataclass(frozen=True)
class Payee:
    """Where captured money goes: a wallet, or a system account by its code."""

    amount: Decimal
    type: str
    wallet: Account | None = None
    system: str | None = None


def hold_place(
    *,
    wallet: Account,
    amount,
    reference_type: str | None = None,
    reference_id: str | None = None,
    description: str = "Hold",
    type: str = "freeze",
) -> Hold:
    """Move `amount` from the wallet's available part to its held part."""
    amount = _amount(amount, wallet.currency)
    with transaction.atomic():
        hold = Hold.objects.create(
            account=wallet,
            currency=wallet.currency,
            amount=amount,
            reference_type=reference_type,
            reference_id=None if reference_id is None else str(reference_id),
        )
        ledger.post(
            kind="hold",
            legs=[_wallet_leg(wallet, -amount, type), _wallet_leg(wallet, amount, type, bucket=HELD)],
            description=description,
            reference_type=reference_type,
            reference_id=reference_id,
            metadata={"hold": str(hold.id)},
        )
    return hold


def _lock_active_hold(hold_id: UUID) -> Hold:
    try:
        hold = Hold.objects.select_for_update().select_related("account").get(pk=hold_id)
    except Hold.DoesNotExist:
        raise DomainError(ErrorCode.HOLD_NOT_FOUND, "No such hold.") from None
    if hold.status != Hold.Status.ACTIVE or hold.remaining == 0:
        raise DomainError(ErrorCode.HOLD_NOT_ACTIVE, f"The hold is already {hold.status}.")
    return hold


def _finish_hold(hold: Hold) -> None:
    if hold.remaining == 0:
        hold.status = Hold.Status.CAPTURED if hold.captured > 0 else Hold.Status.RELEASED
    hold.save(update_fields=["captured", "released", "status", "updated_at"])


def hold_capture(
    *,
    hold_id: UUID,
    payees: list[Payee],
    description: str = "Capture",
    debit_type: str = "debit",
    reference_type: str | None = None,
    reference_id: str | None = None,
    release_rest: bool = False,
) -> Hold:
    """Take the payees' total out of the held part (all or part of it) and credit each payee.

    With `release_rest`, whatever stays held goes back to the available part in the same transaction.
    """
    with transaction.atomic():
        hold = _lock_active_hold(hold_id)
        wallet = hold.account
        if not payees:
            raise DomainError(ErrorCode.VALIDATION_ERROR, "A capture needs at least one payee.")
        legs: list[Leg] = []
        total = Decimal(0)
        for payee in payees:
            amount = _amount(payee.amount, hold.currency)
            total += amount
            if payee.wallet is not None:
                if payee.wallet.currency != hold.currency:
                    raise DomainError(ErrorCode.CURRENCY_MISMATCH, "The payee's wallet holds another currency.")
                legs.append(_wallet_leg(payee.wallet, amount, payee.type))
            else:
                legs.append(_system_leg(payee.system, hold.currency, amount, payee.type))
        if total > hold.remaining:
            raise DomainError(
                ErrorCode.CAPTURE_EXCEEDS_HOLD,
                f"Cannot capture {total}; only {hold.remaining} is held.",
            )
        rest = hold.remaining - total if release_rest else Decimal(0)
        legs.insert(0, _wallet_leg(wallet, -(total + rest), debit_type, bucket=HELD))
        if rest > 0:
            legs.insert(1, _wallet_leg(wallet, rest, "unfreeze"))
        ledger.post(
            kind="capture",
            legs=legs,
            description=description,
            reference_type=reference_type or hold.reference_type,
            reference_id=reference_id or hold.reference_id,
            metadata={"hold": str(hold.id)},
        )
        hold.captured += total
        hold.released += rest
        _finish_hold(hold)
    return hold


def hold_release(
    *,
    hold_id: UUID,
    amount=None,
    description: str = "Release",
    type: str = "unfreeze",
) -> Hold:
    """Move all (or `amount`) of what is still held back to the wallet's available part."""
    with transaction.atomic():
        hold = _lock_active_hold(hold_id)
        release = hold.remaining if amount is None else _amount(amount, hold.currency)
        if release > hold.remaining:
            raise DomainError(
                ErrorCode.CAPTURE_EXCEEDS_HOLD, f"Cannot release {release}; only {hold.remaining} is held."
            )
        wallet = hold.account
        ledger.post(
            kind="release",
            legs=[_wallet_leg(wallet, -release, type, bucket=HELD), _wallet_leg(wallet, release, type)],
            description=description,
            reference_type=hold.reference_type,
            reference_id=hold.reference_id,
            metadata={"hold": str(hold.id)},
        )
        hold.released += release
        _finish_hold(hold)
    return hold


# Corrections


def transaction_reverse(*, transaction_id: UUID, reason: str, created_by: User | None = None) -> Posted:
    """Post the exact opposite of a transaction. The original stays; each is reversed at most once."""
    if not reason or not reason.strip():
        raise DomainError(ErrorCode.VALIDATION_ERROR, "A reason is required.", fields={"reason": ["Required."]})
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
    legs = [
        Leg(
            account_id=entry.account_id,
            currency=entry.currency,
            amount=-entry.amount,
            type="refund" if entry.amount < 0 else "adjustment",
            bucket=entry.bucket,
            is_wallet=entry.account.kind == Account.Kind.WALLET,
        )
        for entry in entries
    ]
    return ledger.post(
        kind="reversal",
        legs=legs,
        description=f"Reversal: {reason.strip()}"[:255],
        reference_type="transaction",
        reference_id=str(original.id),
        reverses=original.id,
        created_by=None if created_by is None else created_by.pk,
    )


# Credentials


def api_key_create(*, name: str, scope: str) -> tuple[ApiKey, str]:
    """A new API key; the raw key is returned once and only its hash is stored."""
    from wallets.api.auth import generate_key, hash_key

    if scope not in ApiKey.Scope.values:
        raise DomainError(ErrorCode.VALIDATION_ERROR, f"Scope must be one of {', '.join(ApiKey.Scope.values)}.")
    prefix, raw = generate_key()
    key = ApiKey.objects.create(name=name, scope=scope, prefix=prefix, key_hash=hash_key(raw))
    return key, raw
