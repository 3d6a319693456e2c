"""Holds: money moved from a wallet's available part to its held part, then captured to payees,
settled, resized or released. Each is a transfer in the ledger, so every freeze shows in the history.

One rule for every function here: it works inside the caller's open transaction (no savepoint of
its own) on a hold the caller locked with `hold_lock` (or just placed), so a service that records
something with the hold (a session, an escrow, a payout) commits both or neither.
"""
from dataclasses import dataclass
from decimal import Decimal
from uuid import UUID

from django.db import transaction

from wallets import ledger
from wallets.errors import DomainError, ErrorCode
from wallets.ledger import HELD, Leg, Posted
from wallets.models import Account, Entry, Hold, JournalTransaction
from wallets.money import parse_amount

FREEZE, UNFREEZE = Entry.Type.FREEZE, Entry.Type.UNFREEZE


@dataclass(frozen=True)
class Payee:
    """Where captured money goes: a wallet of the payer's tenant, or one of its system accounts by code."""

    amount: Decimal
    type: str
    wallet: Account | None = None
    system: str | None = None


def _in_transaction() -> None:
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("call this inside transaction.atomic(); the caller's transaction is the unit of work")


def hold_place(
    *,
    wallet: Account,
    amount,
    reference_type: str | None = None,
    reference_id: str | None = None,
    description: str = "Hold",
    type: str = FREEZE,
) -> Hold:
    """Move `amount` from the wallet's available part to its held part (400 `insufficient_balance`
    if it is not there)."""
    _in_transaction()
    amount = parse_amount(amount, wallet.currency)
    hold = Hold.objects.create(
        account=wallet,
        currency=wallet.currency,
        amount=amount,
        reference_type=reference_type,
        reference_id=None if reference_id is None else str(reference_id),
    )
    ledger.post(
        kind=JournalTransaction.Kind.HOLD,
        legs=[ledger.wallet_leg(wallet, -amount, type), ledger.wallet_leg(wallet, amount, type, bucket=HELD)],
        description=description,
        reference_type=reference_type,
        reference_id=reference_id,
        metadata={"hold": str(hold.id)},
    )
    return hold


def hold_lock(hold_id: UUID) -> Hold:
    """The hold (with its wallet), row-locked for the rest of the caller's transaction; refused
    unless it still holds money (409 `hold_not_active`)."""
    _in_transaction()
    hold = Hold.objects.select_for_update(of=("self",)).select_related("account").filter(pk=hold_id).first()
    if hold is None:
        raise DomainError(ErrorCode.HOLD_NOT_FOUND, "No such hold.")
    return hold_require_active(hold)


def hold_require_active(hold: Hold) -> Hold:
    if hold.status != Hold.Status.ACTIVE or hold.remaining == 0:
        raise DomainError(ErrorCode.HOLD_NOT_ACTIVE, f"The hold is already {hold.status}.")
    return hold


def _check_payees(hold: Hold, payees: list[Payee]) -> None:
    for payee in payees:
        if payee.wallet is not None and payee.wallet.pk == hold.account_id:
            raise DomainError(
                ErrorCode.VALIDATION_ERROR, "Held money cannot be paid to the wallet that holds it; release it instead."
            )
        if payee.wallet is not None and payee.wallet.currency != hold.currency:
            raise DomainError(ErrorCode.CURRENCY_MISMATCH, "The payee's wallet holds another currency.")
        if payee.wallet is not None and payee.wallet.tenant_id != hold.account.tenant_id:
            raise DomainError(ErrorCode.WALLET_NOT_FOUND, "The payee's wallet does not exist.")


def _held_leg(hold: Hold, amount: Decimal, type: str) -> Leg:
    return Leg(account_id=hold.account_id, currency=hold.currency, amount=amount, type=type, bucket=HELD)


def _available_leg(hold: Hold, amount: Decimal, type: str, **kw) -> Leg:
    return Leg(account_id=hold.account_id, currency=hold.currency, amount=amount, type=type, **kw)


def _payee_leg(payee: Payee, hold: Hold, amount: Decimal) -> Leg:
    if payee.wallet is not None:
        return ledger.wallet_leg(payee.wallet, amount, payee.type)
    # The payer's tenant: its revenue and clearing accounts take the system parts.
    return ledger.system_leg(hold.account.tenant_id, payee.system, hold.currency, amount, payee.type)


def _finish_hold(hold: Hold) -> None:
    if hold.remaining == 0:
        hold.status = Hold.Status.CAPTURED if hold.captured > 0 else Hold.Status.RELEASED
    hold.save(update_fields=["captured", "released", "status", "updated_at"])


def hold_capture(
    *,
    hold: Hold,
    payees: list[Payee],
    description: str = "Capture",
    debit_type: str = Entry.Type.DEBIT,
    reference_type: str | None = None,
    reference_id: str | None = None,
    release_rest: bool = False,
) -> Hold:
    """Take the payees' total out of the held part (all or part of it) and credit each payee.
    With `release_rest`, whatever stays held goes back to the available part in the same posting."""
    _in_transaction()
    hold_require_active(hold)
    if not payees:
        raise DomainError(ErrorCode.VALIDATION_ERROR, "A capture needs at least one payee.")
    _check_payees(hold, payees)
    legs: list[Leg] = []
    total = Decimal(0)
    for payee in payees:
        amount = parse_amount(payee.amount, hold.currency)
        total += amount
        legs.append(_payee_leg(payee, hold, amount))
    if total > hold.remaining:
        raise DomainError(ErrorCode.CAPTURE_EXCEEDS_HOLD, f"Cannot capture {total}; only {hold.remaining} is held.")
    rest = hold.remaining - total if release_rest else Decimal(0)
    legs.insert(0, _held_leg(hold, -(total + rest), debit_type))
    if rest > 0:
        legs.insert(1, _available_leg(hold, rest, debit_type))
    ledger.post(
        kind=JournalTransaction.Kind.CAPTURE,
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


def hold_release(*, hold: Hold, amount=None, description: str = "Release", type: str = UNFREEZE) -> Hold:
    """Move all (or `amount`) of what is still held back to the wallet's available part."""
    _in_transaction()
    hold_require_active(hold)
    release = hold.remaining if amount is None else parse_amount(amount, hold.currency)
    if release > hold.remaining:
        raise DomainError(ErrorCode.CAPTURE_EXCEEDS_HOLD, f"Cannot release {release}; only {hold.remaining} is held.")
    ledger.post(
        kind=JournalTransaction.Kind.RELEASE,
        legs=[_held_leg(hold, -release, type), _available_leg(hold, release, type)],
        description=description,
        reference_type=hold.reference_type,
        reference_id=hold.reference_id,
        metadata={"hold": str(hold.id)},
    )
    hold.released += release
    _finish_hold(hold)
    return hold


def hold_resize(*, hold: Hold, amount, description: str = "Hold adjusted") -> Hold:
    """Make what the hold still holds equal to `amount`: hold more from the available part (which
    must have it), or release the difference."""
    _in_transaction()
    hold_require_active(hold)
    target = parse_amount(amount, hold.currency)
    if target < hold.remaining:
        return hold_release(hold=hold, amount=hold.remaining - target, description=description)
    if target > hold.remaining:
        more = target - hold.remaining
        ledger.post(
            kind=JournalTransaction.Kind.HOLD,
            legs=[_available_leg(hold, -more, FREEZE), _held_leg(hold, more, FREEZE)],
            description=description,
            reference_type=hold.reference_type,
            reference_id=hold.reference_id,
            metadata={"hold": str(hold.id)},
        )
        hold.amount += more
        hold.save(update_fields=["amount", "updated_at"])
    return hold


def hold_settle(
    *,
    hold: Hold,
    amount: Decimal,
    payees: list[Payee],
    description: str = "Settlement",
    debit_type: str = Entry.Type.DEBIT,
    use_credit: bool = False,
) -> tuple[Hold, Posted]:
    """Charge exactly `amount` against the hold in one posting: from the held part first, any excess
    from the available balance (below zero down to the credit limit with `use_credit`), the rest of
    the hold released. The payees' amounts must add up to `amount`."""
    _in_transaction()
    hold_require_active(hold)
    amount = parse_amount(amount, hold.currency, allow_zero=True)
    if sum((p.amount for p in payees), Decimal(0)) != amount:
        raise ValueError("payees must add up to the settled amount")
    _check_payees(hold, payees)
    held = hold.remaining
    if amount == 0:
        legs = [_held_leg(hold, -held, UNFREEZE), _available_leg(hold, held, UNFREEZE)]
    else:
        legs = [_held_leg(hold, -held, debit_type)]
        if held != amount:
            legs.append(_available_leg(hold, held - amount, debit_type, allow_credit=use_credit))
        legs.extend(_payee_leg(p, hold, p.amount) for p in payees if p.amount != 0)
    posted = ledger.post(
        kind=JournalTransaction.Kind.SETTLEMENT if amount else JournalTransaction.Kind.RELEASE,
        legs=legs,
        description=description,
        reference_type=hold.reference_type,
        reference_id=hold.reference_id,
        metadata={"hold": str(hold.id)},
    )
    hold.captured += min(amount, held)
    hold.released += max(held - amount, Decimal(0))
    hold.status = Hold.Status.CAPTURED if amount else Hold.Status.RELEASED
    hold.save(update_fields=["captured", "released", "status", "updated_at"])
    return hold, posted
