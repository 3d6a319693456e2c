"""Writes to wallets and the ledger: one function per state change, each one transaction.

Every money movement goes through `wallets.ledger.post`, which locks wallet rows in primary-key
order and re-reads balances under the lock. Functions take keyword-only arguments and raise
`DomainError` on any refusal, leaving every balance as it was.
"""
from dataclasses import dataclass
from datetime import timedelta
from decimal import ROUND_HALF_UP, Decimal
from uuid import UUID

import phonenumbers
from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from wallets import ledger
from wallets.crypto import api_key_generate, api_key_hash
from wallets.errors import DomainError, ErrorCode
from wallets.ledger import AVAILABLE, HELD, Leg, Posted
from wallets.gateways import gateway_for
from wallets.models import (
    Account, ApiKey, Entry, Escrow, Hold, JournalTransaction, LoginFailure, Recharge, Tenant, User,
)
from wallets.money import currency_exponent, parse_amount, quantum
from wallets.tenants import tenant_currency_require, tenant_fee_percent
from wallets.validation import invalid, json_document_check

System = Account.System


def _amount(amount, currency: str) -> Decimal:
    return parse_amount(amount, currency)


def _wallet_leg(wallet: Account, amount: Decimal, type: str, bucket: int = AVAILABLE, **kw) -> Leg:
    return Leg(account_id=wallet.id, currency=wallet.currency, amount=amount, type=type, bucket=bucket, **kw)


def _system_leg(tenant_id: str, code: str, currency: str, amount: Decimal, type: str) -> Leg:
    """A leg on one stripe of the tenant's system account `code`."""
    return Leg(
        account_id=ledger.system_account(tenant_id, code, currency),
        currency=currency,
        amount=amount,
        type=type,
        is_wallet=False,
    )


# Users


def phone_number_normalize(value, *, field: str = "phoneNumber") -> str:
    """A phone number in E.164 (`+919876543210`), parsed with the deployment's default region."""
    if not isinstance(value, str) or not value.strip():
        raise invalid(field, "A phone number is required.")
    if any(ch.isdigit() and not ch.isascii() for ch in value):
        # phonenumbers reads other scripts' digits too; one number must have one spelling here.
        raise invalid(field, "Write the number with the digits 0-9.")
    try:
        number = phonenumbers.parse(value, settings.PHONE_DEFAULT_REGION)
    except phonenumbers.NumberParseException:
        raise invalid(field, "Not a phone number.") from None
    if not phonenumbers.is_valid_number(number):
        raise invalid(field, "Not a valid phone number.")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _phone_taken() -> DomainError:
    return DomainError(ErrorCode.PHONE_NUMBER_TAKEN, "Another user already has this phone number.")


def user_create(
    *, tenant: Tenant, phone_number: str, name: str = "", max_credits=Decimal(0), settings_: dict | None = None
) -> User:
    """A user of the tenant (a WeBuddy user) and their wallet in its default currency, credit limit
    `max_credits`. A phone number names one user within a tenant (409 `phone_number_taken`)."""
    currency = tenant.default_currency
    phone = phone_number_normalize(phone_number)
    limit = parse_amount(max_credits, currency, field="max_credits", allow_zero=True)
    settings_ = json_document_check(settings_ or {}, field="settings")
    if User.objects.filter(tenant=tenant, phone_number=phone).exists():
        raise _phone_taken()
    try:
        with transaction.atomic():
            user = User(tenant=tenant, phone_number=phone, name=name or "", max_credits=limit, settings=settings_)
            user.set_unusable_password()
            user.save()
            Account.objects.create(
                tenant=tenant, kind=Account.Kind.WALLET, user=user, currency=currency, credit_limit=limit
            )
    except IntegrityError:
        raise _phone_taken() from None
    return user


def user_update(*, user: User, phone_number=None, name=None, max_credits=None, settings_=None) -> User:
    """Change what was sent; a new `max_credits` becomes the wallet's credit limit in the same
    transaction, and may not go below what the user already owes (409 `credit_in_use`)."""
    currency = user.tenant.default_currency
    phone = None if phone_number is None else phone_number_normalize(phone_number)
    if settings_ is not None:
        settings_ = json_document_check(settings_, field="settings")
    limit = None if max_credits is None else parse_amount(max_credits, currency, field="max_credits", allow_zero=True)
    try:
        with transaction.atomic():
            locked = User.objects.select_for_update().get(pk=user.pk)
            changed = []
            if phone is not None and phone != locked.phone_number:
                if User.objects.filter(tenant_id=locked.tenant_id, phone_number=phone).exclude(pk=locked.pk).exists():
                    raise _phone_taken()
                locked.phone_number = phone
                changed.append("phone_number")
            if name is not None:
                locked.name = name
                changed.append("name")
            if settings_ is not None:
                locked.settings = settings_
                changed.append("settings")
            if limit is not None:
                locked.max_credits = limit
                changed.append("max_credits")
                wallet = (
                    Account.objects.select_for_update()
                    .filter(kind=Account.Kind.WALLET, user=locked, currency=currency)
                    .first()
                )
                if wallet is not None:
                    owed = wallet.held_balance - wallet.balance
                    if owed > limit:
                        raise DomainError(
                            ErrorCode.CREDIT_IN_USE,
                            f"The user already uses {owed} of credit; max_credits cannot go below that.",
                        )
                    wallet.credit_limit = limit
                    wallet.save(update_fields=["credit_limit", "updated_at"])
            if changed:
                locked.save(update_fields=[*changed, "updated_at"])
    except IntegrityError:
        raise _phone_taken() from None
    return locked


def user_register(*, tenant: Tenant, username: str, password: str) -> User:
    """A TMR Land user with a password (Django's validators) and a wallet in the tenant's default
    currency (USD)."""
    username = (username or "").strip()
    if not username:
        raise invalid("username", "This field is required.")
    candidate = User(username=username)
    try:
        validate_password(password, user=candidate)
    except DjangoValidationError as exc:
        raise DomainError(
            ErrorCode.VALIDATION_ERROR, f"password: {exc.messages[0]}", fields={"password": list(exc.messages)}
        ) from None
    taken = DomainError(ErrorCode.USERNAME_TAKEN, "This username is taken.")
    if User.objects.filter(username__iexact=username).exists():
        raise taken
    try:
        with transaction.atomic():
            user = User.objects.create_user(username=username, password=password, tenant=tenant)
            Account.objects.create(tenant=tenant, kind=Account.Kind.WALLET, user=user, currency=tenant.default_currency)
    except IntegrityError:
        raise taken from None
    return user


def login_retry_after(*, username: str, ip: str) -> int:
    """Seconds until another login may be tried for this username or from this IP (0: now)."""
    window = timedelta(seconds=settings.LOGIN_FAILURE_WINDOW_SECONDS)
    since = timezone.now() - window
    waits = []
    for condition in (Q(username=username.lower()), Q(ip=ip)):
        recent = list(
            LoginFailure.objects.filter(condition, failed_at__gt=since).order_by("-failed_at")
            .values_list("failed_at", flat=True)[: settings.LOGIN_FAILURE_LIMIT]
        )
        if len(recent) >= settings.LOGIN_FAILURE_LIMIT:
            waits.append((recent[-1] + window - timezone.now()).total_seconds())
    return max(0, int(max(waits, default=0)) + (1 if waits else 0))


def login_failure_record(*, username: str, ip: str) -> None:
    LoginFailure.objects.create(username=username.lower()[:150], ip=ip[:45], failed_at=timezone.now())


def login_failures_clear(*, username: str) -> None:
    LoginFailure.objects.filter(username=username.lower()).delete()


# Wallets


def user_wallet(*, tenant: Tenant, user_id, currency: str) -> Account:
    """The tenant's user's wallet in `currency`, or 404 `wallet_not_found`."""
    currency_exponent(currency)
    wallet = Account.objects.filter(kind=Account.Kind.WALLET, tenant=tenant, user_id=user_id, currency=currency).first()
    if wallet is None:
        raise DomainError(ErrorCode.WALLET_NOT_FOUND, f"No {currency} wallet for this user.")
    return wallet


def webuddy_wallet(*, tenant: Tenant, user_id) -> Account:
    """The tenant's user's wallet in the tenant's default currency, or 404 `user_not_found`."""
    wallet = (
        Account.objects.select_related("user")
        .filter(kind=Account.Kind.WALLET, tenant=tenant, user_id=user_id, currency=tenant.default_currency)
        .first()
    )
    if wallet is None:
        raise DomainError(ErrorCode.USER_NOT_FOUND, "No such user.")
    return wallet


def _owner_tenant(user: User) -> Tenant:
    if user.tenant_id is None:
        raise ValueError("staff users belong to no tenant and own no wallet")
    return user.tenant


def wallet_create(*, user: User, currency: str, credit_limit: Decimal = Decimal(0)) -> Account:
    """Open the user's wallet in `currency`, one of their tenant's currencies (400
    `currency_not_supported` otherwise); 409 `wallet_exists` if it is already open."""
    currency_exponent(currency)
    tenant = _owner_tenant(user)
    tenant_currency_require(tenant=tenant, currency=currency)
    try:
        with transaction.atomic():
            return Account.objects.create(
                tenant=tenant, kind=Account.Kind.WALLET, user=user, currency=currency, credit_limit=credit_limit
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
    except DomainError as exc:
        if exc.code != ErrorCode.WALLET_EXISTS:
            raise
        return Account.objects.get(kind=Account.Kind.WALLET, user=user, currency=currency)  # opened concurrently


def _wallet_set(*, wallet: Account, **changes) -> Account:
    with transaction.atomic():
        locked = Account.objects.select_for_update().get(pk=wallet.pk)
        for name, value in changes.items():
            setattr(locked, name, value)
        locked.save(update_fields=[*changes, "updated_at"])
    return locked


def wallet_suspend(*, wallet: Account) -> Account:
    if wallet.kind != Account.Kind.WALLET:
        raise DomainError(ErrorCode.WALLET_NOT_FOUND, "System accounts are never suspended.")
    return _wallet_set(wallet=wallet, status=Account.Status.SUSPENDED)


def wallet_reactivate(*, wallet: Account) -> Account:
    if wallet.kind != Account.Kind.WALLET:
        raise DomainError(ErrorCode.WALLET_NOT_FOUND, "System accounts are never suspended.")
    return _wallet_set(wallet=wallet, status=Account.Status.ACTIVE)


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
            _system_leg(wallet.tenant_id, source, wallet.currency, -amount, "deposit"),
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
            _system_leg(wallet.tenant_id, destination, wallet.currency, amount, "withdrawal"),
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
    type: str = "freeze",
) -> Hold:
    """Move `amount` from the wallet's available part to its held part."""
    with transaction.atomic():
        return hold_place_in_transaction(
            wallet=wallet, amount=amount, reference_type=reference_type, reference_id=reference_id,
            description=description, type=type,
        )


def hold_place_in_transaction(
    *,
    wallet: Account,
    amount,
    reference_type: str | None = None,
    reference_id: str | None = None,
    description: str = "Hold",
    type: str = "freeze",
) -> Hold:
    """`hold_place` as part of the caller's open transaction (no savepoint of its own): for services
    that record something else with the hold and let any refusal roll the whole transaction back."""
    _in_transaction()
    amount = _amount(amount, wallet.currency)
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


def hold_require_active(hold: Hold) -> Hold:
    if hold.status != Hold.Status.ACTIVE or hold.remaining == 0:
        raise DomainError(ErrorCode.HOLD_NOT_ACTIVE, f"The hold is already {hold.status}.")
    return hold


def hold_lock_active(hold_id: UUID) -> Hold:
    """The hold, row-locked for the rest of the caller's transaction; refused unless it still holds money."""
    _in_transaction()
    hold = Hold.objects.select_for_update(of=("self",)).select_related("account").filter(pk=hold_id).first()
    if hold is None:
        raise DomainError(ErrorCode.HOLD_NOT_FOUND, "No such hold.")
    return hold_require_active(hold)


def _held_leg(hold: Hold, amount: Decimal, type: str) -> Leg:
    return Leg(account_id=hold.account_id, currency=hold.currency, amount=amount, type=type, bucket=HELD)


def _available_leg(hold: Hold, amount: Decimal, type: str, **kw) -> Leg:
    return Leg(account_id=hold.account_id, currency=hold.currency, amount=amount, type=type, **kw)


def _finish_hold(hold: Hold) -> None:
    if hold.remaining == 0:
        hold.status = Hold.Status.CAPTURED if hold.captured > 0 else Hold.Status.RELEASED
    hold.save(update_fields=["captured", "released", "status", "updated_at"])


def _payee_leg(payee: Payee, hold: Hold, amount: Decimal) -> Leg:
    if payee.wallet is not None:
        return _wallet_leg(payee.wallet, amount, payee.type)
    # The payer's tenant: its revenue and clearing accounts take the system parts.
    return _system_leg(hold.account.tenant_id, payee.system, hold.currency, amount, payee.type)


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
        return hold_capture_locked(
            hold=hold_lock_active(hold_id), payees=payees, description=description, debit_type=debit_type,
            reference_type=reference_type, reference_id=reference_id, release_rest=release_rest,
        )


def hold_capture_locked(
    *,
    hold: Hold,
    payees: list[Payee],
    description: str = "Capture",
    debit_type: str = "debit",
    reference_type: str | None = None,
    reference_id: str | None = None,
    release_rest: bool = False,
) -> Hold:
    """`hold_capture` on a hold the caller locked in its open transaction (`hold_lock_active`)."""
    _in_transaction()
    hold_require_active(hold)
    if not payees:
        raise DomainError(ErrorCode.VALIDATION_ERROR, "A capture needs at least one payee.")
    _check_payees(hold, payees)
    legs: list[Leg] = []
    total = Decimal(0)
    for payee in payees:
        amount = _amount(payee.amount, hold.currency)
        total += amount
        legs.append(_payee_leg(payee, hold, amount))
    if total > hold.remaining:
        raise DomainError(
            ErrorCode.CAPTURE_EXCEEDS_HOLD,
            f"Cannot capture {total}; only {hold.remaining} is held.",
        )
    rest = hold.remaining - total if release_rest else Decimal(0)
    legs.insert(0, _held_leg(hold, -(total + rest), debit_type))
    if rest > 0:
        legs.insert(1, _available_leg(hold, rest, debit_type))
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
        return hold_release_locked(hold=hold_lock_active(hold_id), amount=amount, description=description, type=type)


def hold_release_locked(*, hold: Hold, amount=None, description: str = "Release", type: str = "unfreeze") -> Hold:
    """`hold_release` on a hold the caller locked in its open transaction (`hold_lock_active`)."""
    _in_transaction()
    hold_require_active(hold)
    release = hold.remaining if amount is None else _amount(amount, hold.currency)
    if release > hold.remaining:
        raise DomainError(
            ErrorCode.CAPTURE_EXCEEDS_HOLD, f"Cannot release {release}; only {hold.remaining} is held."
        )
    ledger.post(
        kind="release",
        legs=[_held_leg(hold, -release, type), _available_leg(hold, release, type)],
        description=description,
        reference_type=hold.reference_type,
        reference_id=hold.reference_id,
        metadata={"hold": str(hold.id)},
    )
    hold.released += release
    _finish_hold(hold)
    return hold


def hold_increase(*, hold_id: UUID, amount, description: str = "Hold increased", type: str = "freeze") -> Hold:
    """Hold `amount` more from the wallet's available part under the same hold."""
    with transaction.atomic():
        return _hold_increase_locked(hold=hold_lock_active(hold_id), amount=amount, description=description, type=type)


def _hold_increase_locked(*, hold: Hold, amount, description: str, type: str = "freeze") -> Hold:
    amount = _amount(amount, hold.currency)
    ledger.post(
        kind="hold",
        legs=[_available_leg(hold, -amount, type), _held_leg(hold, amount, type)],
        description=description,
        reference_type=hold.reference_type,
        reference_id=hold.reference_id,
        metadata={"hold": str(hold.id)},
    )
    hold.amount += amount
    hold.save(update_fields=["amount", "updated_at"])
    return hold


def hold_resize(*, hold_id: UUID, amount, description: str = "Hold adjusted") -> Hold:
    """Make what the hold still holds equal to `amount`: hold more, or release the difference.
    Decided under the hold's row lock, so a concurrent capture cannot make it hold the wrong amount."""
    with transaction.atomic():
        return hold_resize_locked(hold=hold_lock_active(hold_id), amount=amount, description=description)


def hold_resize_locked(*, hold: Hold, amount, description: str = "Hold adjusted") -> Hold:
    """`hold_resize` on a hold the caller locked in its open transaction (`hold_lock_active`)."""
    _in_transaction()
    hold_require_active(hold)
    target = _amount(amount, hold.currency)
    if target > hold.remaining:
        return _hold_increase_locked(hold=hold, amount=target - hold.remaining, description=description)
    if target < hold.remaining:
        return hold_release_locked(hold=hold, amount=hold.remaining - target, description=description)
    return hold


def hold_settle(
    *,
    hold_id: UUID,
    amount: Decimal,
    payees: list[Payee],
    description: str = "Settlement",
    debit_type: str = "debit",
    use_credit: bool = False,
) -> tuple[Hold, Posted]:
    """Charge exactly `amount` against a hold, in one transaction: from the held part first, any
    excess from the available balance (below zero down to the credit limit with `use_credit`),
    the rest of the hold released. The payees' amounts must add up to `amount`."""
    with transaction.atomic():
        return hold_settle_locked(
            hold=hold_lock_active(hold_id), amount=amount, payees=payees, description=description,
            debit_type=debit_type, use_credit=use_credit,
        )


def hold_settle_locked(
    *,
    hold: Hold,
    amount: Decimal,
    payees: list[Payee],
    description: str = "Settlement",
    debit_type: str = "debit",
    use_credit: bool = False,
) -> tuple[Hold, Posted]:
    """`hold_settle` on a hold the caller locked in its open transaction (`hold_lock_active`)."""
    _in_transaction()
    hold_require_active(hold)
    amount = parse_amount(amount, hold.currency, allow_zero=True)
    if sum((p.amount for p in payees), Decimal(0)) != amount:
        raise ValueError("payees must add up to the settled amount")
    _check_payees(hold, payees)
    held = hold.remaining
    if amount == 0:
        legs = [_held_leg(hold, -held, "unfreeze"), _available_leg(hold, held, "unfreeze")]
    else:
        legs = [_held_leg(hold, -held, debit_type)]
        if held != amount:
            legs.append(_available_leg(hold, held - amount, debit_type, allow_credit=use_credit))
        legs.extend(_payee_leg(p, hold, p.amount) for p in payees if p.amount != 0)
    posted = ledger.post(
        kind="settlement" if amount else "release",
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


def fee_split(amount: Decimal, percent: Decimal, currency: str) -> tuple[Decimal, Decimal]:
    """(payee's part, platform fee) of `amount`; the fee is rounded half up to the currency."""
    fee = (amount * Decimal(percent) / 100).quantize(quantum(currency), rounding=ROUND_HALF_UP)
    return amount - fee, fee


# Recharges


def recharge_create(*, tenant: Tenant, user_id, amount, payment_method: str) -> tuple[Recharge, dict]:
    """Start a wallet recharge through the payment method's gateway.

    The intent is recorded first, the gateway called with no lock held, and the wallet credited
    once when the gateway confirms (at once with the simulated gateway). Returns the recharge and
    what the payer's client needs to complete a live payment.
    """
    wallet = webuddy_wallet(tenant=tenant, user_id=user_id)
    amount = _amount(amount, wallet.currency)
    if payment_method not in Recharge.Method.values:
        raise invalid("paymentMethod", f"Must be one of {', '.join(Recharge.Method.values)}.")
    if wallet.status != Account.Status.ACTIVE:
        raise DomainError(ErrorCode.WALLET_SUSPENDED, "The wallet is suspended.")
    recharge = Recharge.objects.create(
        user_id=wallet.user_id, account=wallet, amount=amount, currency=wallet.currency, payment_method=payment_method
    )
    order = gateway_for(payment_method).create_order(
        reference=str(recharge.id), amount=amount, currency=wallet.currency, idempotency_key=f"recharge-{recharge.id}"
    )
    Recharge.objects.filter(pk=recharge.pk).update(provider_order_id=order.provider_order_id)
    if order.status == "succeeded":
        recharge = recharge_confirm(recharge_id=recharge.id, provider_payment_id=order.provider_payment_id)
    elif order.status == "failed":
        recharge = recharge_fail(recharge_id=recharge.id, reason=order.failure_reason)
    else:
        recharge.refresh_from_db()
    return recharge, order.client_data


def recharge_confirm(*, recharge_id, provider_payment_id: str | None) -> Recharge:
    """The gateway says the money arrived: credit the wallet, exactly once."""
    with transaction.atomic():
        recharge = Recharge.objects.select_for_update().select_related("account").get(pk=recharge_id)
        if recharge.status == Recharge.Status.SUCCEEDED:
            return recharge
        posted = wallet_deposit(
            wallet=recharge.account,
            amount=recharge.amount,
            description=f"Wallet recharge via {recharge.get_payment_method_display().title()}",
            reference_type="recharge",
            reference_id=str(recharge.id),
            external_key=f"recharge:{recharge.id}",
        )
        recharge.status = Recharge.Status.SUCCEEDED
        recharge.provider_payment_id = provider_payment_id
        recharge.transaction_id = posted.transaction_id
        recharge.save(update_fields=["status", "provider_payment_id", "transaction", "updated_at"])
    return recharge


def recharge_fail(*, recharge_id, reason: str) -> Recharge:
    with transaction.atomic():
        recharge = Recharge.objects.select_for_update().get(pk=recharge_id)
        if recharge.status == Recharge.Status.PENDING:
            recharge.status = Recharge.Status.FAILED
            recharge.failure_reason = reason[:255]
            recharge.save(update_fields=["status", "failure_reason", "updated_at"])
    return recharge


# Escrow (TMR Land orders)


def escrow_freeze(*, tenant: Tenant, user_id, order_id: str, amount, currency: str) -> Escrow:
    """Freeze the order's amount on the buyer's wallet; each order id is frozen once per tenant."""
    try:
        wallet = user_wallet(tenant=tenant, user_id=user_id, currency=currency)
    except DomainError as exc:
        if exc.code == ErrorCode.WALLET_NOT_FOUND and not User.objects.filter(pk=user_id, tenant=tenant).exists():
            raise DomainError(ErrorCode.USER_NOT_FOUND, "No such user.") from None
        raise
    amount = _amount(amount, currency)
    exists = DomainError(ErrorCode.ORDER_ALREADY_EXISTS, f"Order {order_id} is already in escrow.")
    if Escrow.objects.filter(tenant=tenant, order_id=order_id).exists():
        raise exists
    try:
        with transaction.atomic():
            hold = hold_place_in_transaction(
                wallet=wallet,
                amount=amount,
                reference_type="order",
                reference_id=order_id,
                description=f"Escrow freeze: order {order_id}",
            )
            return Escrow.objects.create(
                tenant=tenant, order_id=order_id, user_id=wallet.user_id, account=wallet, amount=amount,
                currency=currency, hold=hold,
            )
    except IntegrityError:
        raise exists from None


def _lock_frozen_escrow(tenant: Tenant, order_id: str) -> Escrow:
    """The tenant's escrow and its hold, row-locked in one statement (escrow first, then hold)."""
    escrow = (
        Escrow.objects.select_for_update(of=("self", "hold"))
        .select_related("hold__account", "tenant")
        .filter(tenant=tenant, order_id=order_id)
        .first()
    )
    if escrow is None:
        raise DomainError(ErrorCode.ORDER_NOT_FOUND, f"No escrow for order {order_id}.")
    if escrow.status != Escrow.Status.FROZEN:
        raise DomainError(ErrorCode.ORDER_NOT_FROZEN, f"Order {order_id} is {escrow.status}, not frozen.")
    return escrow


def escrow_release(*, tenant: Tenant, order_id: str, payee_id) -> Escrow:
    """The order completed: the frozen amount goes to the payee (a user of the same tenant), less
    the tenant's platform fee."""
    with transaction.atomic():
        escrow = _lock_frozen_escrow(tenant, order_id)
        if payee_id == escrow.user_id:
            raise invalid("payee_id", "The payee must be another user than the buyer.")
        payee_wallet = Account.objects.filter(
            kind=Account.Kind.WALLET, tenant=tenant, user_id=payee_id, currency=escrow.currency
        ).first()
        if payee_wallet is None:  # a payee without a wallet in this currency gets one
            payee = User.objects.filter(pk=payee_id, tenant=tenant).first()
            if payee is None:
                raise DomainError(ErrorCode.USER_NOT_FOUND, "No such payee.")
            payee_wallet = wallet_get_or_create(user=payee, currency=escrow.currency)
        payout, fee = fee_split(escrow.amount, tenant_fee_percent(tenant=escrow.tenant), escrow.currency)
        hold_settle_locked(
            hold=hold_require_active(escrow.hold),
            amount=escrow.amount,
            payees=[
                Payee(amount=payout, type="credit", wallet=payee_wallet),
                Payee(amount=fee, type="fee", system=System.PLATFORM_REVENUE),
            ],
            description=f"Order payout: {order_id}",
        )
        escrow.status = Escrow.Status.RELEASED
        escrow.payee_id = payee_wallet.user_id
        escrow.fee = fee
        escrow.payout_amount = payout
        escrow.save(update_fields=["status", "payee", "fee", "payout_amount", "updated_at"])
    return escrow


def escrow_cancel(*, tenant: Tenant, order_id: str) -> Escrow:
    """The order was cancelled: the frozen amount goes back to the buyer."""
    with transaction.atomic():
        escrow = _lock_frozen_escrow(tenant, order_id)
        hold_release_locked(hold=escrow.hold, description=f"Escrow cancel: order {order_id}")
        escrow.status = Escrow.Status.CANCELLED
        escrow.save(update_fields=["status", "updated_at"])
    return escrow


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


# Staff adjustments


class AdjustmentDirection:
    CREDIT = "credit"
    DEBIT = "debit"
    CHOICES = [(CREDIT, "Credit the wallet"), (DEBIT, "Debit the wallet")]


def wallet_adjust(
    *, wallet: Account, direction: str, amount, reason: str, staff: User, submission: str | None = None
) -> Posted:
    """A correction by finance staff: credit or debit the wallet's available balance against the
    adjustments system account, with the reason and the staff user on the journal transaction.
    A debit needs the money to be there (and the wallet active), like any other debit.
    `submission` (the form's one-time id) makes a resubmitted form a 409 `duplicate_external_key`."""
    if not reason or not reason.strip():
        raise invalid("reason", "A reason is required.")
    if direction not in (AdjustmentDirection.CREDIT, AdjustmentDirection.DEBIT):
        raise invalid("direction", "Must be credit or debit.")
    if wallet.kind != Account.Kind.WALLET:
        raise DomainError(ErrorCode.WALLET_NOT_FOUND, "Adjustments are posted to user wallets only.")
    amount = parse_amount(amount, wallet.currency)
    signed = amount if direction == AdjustmentDirection.CREDIT else -amount
    return ledger.post(
        kind="adjustment",
        legs=[
            _wallet_leg(wallet, signed, "adjustment"),
            _system_leg(wallet.tenant_id, System.ADJUSTMENTS, wallet.currency, -signed, "adjustment"),
        ],
        description=f"Adjustment: {reason.strip()}"[:255],
        reference_type="adjustment",
        external_key=None if submission is None else f"adjustment:{submission}",
        metadata={"reason": reason.strip(), "staff": str(staff.pk), "direction": direction},
        created_by=staff.pk,
    )


# Credentials


def api_key_create(*, name: str, tenant: Tenant) -> tuple[ApiKey, str]:
    """A new API key of the tenant, speaking its dialect; the raw key is returned once and only its
    hash is stored."""
    if not name or not name.strip():
        raise invalid("name", "A name is required.")
    prefix, raw = api_key_generate()
    key = ApiKey.objects.create(tenant=tenant, name=name.strip()[:100], prefix=prefix, key_hash=api_key_hash(raw))
    return key, raw


def api_key_update(*, key: ApiKey, name: str, is_active: bool) -> ApiKey:
    """Rename or (de)activate a key; its scope and secret never change. A deactivated key stops
    authenticating within AUTH_CACHE_SECONDS in every process."""
    if not name or not name.strip():
        raise invalid("name", "A name is required.")
    ApiKey.objects.filter(pk=key.pk).update(name=name.strip()[:100], is_active=is_active)
    key.refresh_from_db()
    return key
