"""The posting engine: turns legs into one balanced journal transaction and keeps wallet balances.

`post()` is the only code that writes entries or changes a wallet's cached balances. It calls the
database's `ledger_post` function (migration 0009 and later): one round trip locks every wallet leg
in primary-key order with a conditional UPDATE (overdraft, held and status checks against the
locked row), then inserts the transaction and its entries. It is the one posting engine: every rule
of a posting is written there, once.
"""
import json
import random
import uuid
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from django.conf import settings
from django.db import connection
from uuid6 import uuid7

from wallets.errors import DomainError, ErrorCode
from wallets.models import Account, Entry, JournalTransaction
from wallets.money import CURRENCIES, currency_exponent, decimal_places

AVAILABLE = Entry.Bucket.AVAILABLE
HELD = Entry.Bucket.HELD
_SYSTEM_NAMESPACE = uuid.UUID("6f1c54f4-3b1e-4c52-9a55-2f2d6c0f9a11")
_MAX_ABS = Decimal(10) ** 17


# System accounts that existed before tenants keep their ids: each went to the tenant that used its
# currency (migration 0013), and its ids are computed the old way for that tenant.
LEGACY_SYSTEM_OWNER = {"INR": "webuddy", "USD": "tmr", "USDC": "tmr"}


def system_account_id(tenant: str, code: str, currency: str, stripe: int) -> uuid.UUID:
    """Stable id of one stripe of a tenant's system account, computable without a query."""
    if LEGACY_SYSTEM_OWNER.get(currency) == tenant:
        return uuid.uuid5(_SYSTEM_NAMESPACE, f"{code}:{currency}:{stripe}")
    return uuid.uuid5(_SYSTEM_NAMESPACE, f"{tenant}:{code}:{currency}:{stripe}")


def system_account(tenant: str, code: str, currency: str) -> uuid.UUID:
    """One stripe of a tenant's system account, picked at random so concurrent postings spread out."""
    return system_account_id(tenant, code, currency, random.randrange(settings.LEDGER_SYSTEM_STRIPES))


def ensure_system_accounts(*, tenant: str | None = None, using: str = "default") -> None:
    """Create every stripe of every system account of every tenant (or of one) in each of its
    currencies. Idempotent: existing stripes are left as they are."""
    from wallets.models import Tenant

    tenants = Tenant.objects.using(using).all()
    if tenant is not None:
        tenants = tenants.filter(code=tenant)
    rows = [
        Account(
            id=system_account_id(t.code, code, currency, stripe),
            tenant_id=t.code,
            kind=Account.Kind.SYSTEM,
            system_code=code,
            currency=currency,
            stripe=stripe,
        )
        for t in tenants
        for code in Account.System.values
        for currency in t.currencies
        if currency in CURRENCIES
        for stripe in range(settings.LEDGER_SYSTEM_STRIPES)
    ]
    Account.objects.using(using).bulk_create(rows, ignore_conflicts=True)


@dataclass(frozen=True)
class Leg:
    """One side of a posting: `amount` (signed) on one part of one account, with its meaning."""

    account_id: uuid.UUID
    currency: str
    amount: Decimal
    type: str
    bucket: int = AVAILABLE
    is_wallet: bool = True
    # Debits of a wallet's available part always need an active wallet; a service may ask it of
    # other legs too (a user-initiated deposit).
    require_active: bool = False
    # A debit of the available part may take it below zero, down to -credit_limit (settlements
    # only); otherwise it may not go below zero.
    allow_credit: bool = False

    @property
    def needs_active(self) -> bool:
        return self.require_active or (self.is_wallet and self.bucket == AVAILABLE and self.amount < 0)


@dataclass(frozen=True)
class Posted:
    transaction_id: uuid.UUID
    created_at: datetime
    balances: dict[uuid.UUID, tuple[Decimal, Decimal]] = field(default_factory=dict)
    monitored: frozenset = frozenset()  # wallets a low-balance monitor watches

    def balance(self, account_id: uuid.UUID) -> Decimal:
        return self.balances[account_id][0]

    def held(self, account_id: uuid.UUID) -> Decimal:
        return self.balances[account_id][1]


def wallet_leg(wallet: Account, amount: Decimal, type: str, bucket: int = AVAILABLE, **kw) -> Leg:
    """A leg on a wallet's available (or held) part."""
    return Leg(account_id=wallet.id, currency=wallet.currency, amount=amount, type=type, bucket=bucket, **kw)


def system_leg(tenant_id: str, code: str, currency: str, amount: Decimal, type: str) -> Leg:
    """A leg on one stripe of the tenant's system account `code`."""
    return Leg(
        account_id=system_account(tenant_id, code, currency), currency=currency, amount=amount, type=type,
        is_wallet=False,
    )


def _check_legs(legs: list[Leg]) -> None:
    if len(legs) < 2:
        raise ValueError("a journal transaction needs at least two legs")
    sums: dict[str, Decimal] = defaultdict(Decimal)
    wallet_types: dict = {}
    for leg in legs:
        # A wallet's legs in one transaction are one line of its statement, with one meaning.
        if leg.is_wallet and wallet_types.setdefault(leg.account_id, leg.type) != leg.type:
            raise ValueError(f"legs of one wallet must share a type: {wallet_types[leg.account_id]} / {leg.type}")
        exponent = currency_exponent(leg.currency)
        if not isinstance(leg.amount, Decimal) or not leg.amount.is_finite() or leg.amount == 0:
            raise ValueError(f"leg amount must be a non-zero finite Decimal: {leg.amount!r}")
        if abs(leg.amount) > _MAX_ABS or decimal_places(leg.amount) > exponent:
            raise ValueError(f"leg amount {leg.amount} does not fit {leg.currency}")
        sums[leg.currency] += leg.amount
    unbalanced = {currency: total for currency, total in sums.items() if total != 0}
    if unbalanced:
        raise ValueError(f"unbalanced legs: {unbalanced}")


def post(
    *,
    kind: str,
    legs: list[Leg],
    description: str = "",
    reference_type: str | None = None,
    reference_id: str | None = None,
    external_key: str | None = None,
    reverses: uuid.UUID | None = None,
    metadata: dict | None = None,
    created_by: uuid.UUID | None = None,
) -> Posted:
    """Post one balanced journal transaction, or raise `DomainError` and change nothing."""
    _check_legs(legs)
    header = {
        "id": uuid7(),
        "kind": kind,
        "description": description[:255],
        "reference_type": reference_type,
        "reference_id": None if reference_id is None else str(reference_id),
        "external_key": external_key,
        "reverses": reverses,
        "metadata": metadata or {},
        "created_by": created_by,
    }
    posted = _post_function(header, legs)
    for listener in _after_posting:
        listener(posted, kind)
    return posted


# What else follows a posting (counting it, low-balance monitors) belongs to the modules above the
# ledger: each registers a listener, which post() calls after every posting, in its transaction (a
# listener that must wait for the commit asks for it itself), so the ledger imports none of them.
_after_posting: list[Callable[["Posted", str], None]] = []


def after_posting(listener: Callable[["Posted", str], None]) -> Callable[["Posted", str], None]:
    """Register `listener(posted, kind)`, called after each posting in its transaction."""
    if listener not in _after_posting:
        _after_posting.append(listener)
    return listener


# PostgreSQL: one call of the ledger_post function.

_FUNCTION_ERRORS = {
    "insufficient_balance": ErrorCode.INSUFFICIENT_BALANCE,
    "wallet_suspended": ErrorCode.WALLET_SUSPENDED,
    "account_not_found": ErrorCode.ACCOUNT_NOT_FOUND,
    "insufficient_held_balance": ErrorCode.INSUFFICIENT_HELD,
    "currency_mismatch": ErrorCode.CURRENCY_MISMATCH,
    "tenant_mismatch": None,
}

_POST_SQL = "SELECT o_error, o_created_at, o_accounts, o_balances, o_helds, o_monitored FROM ledger_post(%s::jsonb)"


def _post_function(header: dict, legs: list[Leg]) -> Posted:
    document = {
        **header,
        "id": str(header["id"]),
        "reverses": None if header["reverses"] is None else str(header["reverses"]),
        "created_by": None if header["created_by"] is None else str(header["created_by"]),
        "legs": [
            {
                "n": n,
                "account": str(leg.account_id),
                "currency": leg.currency,
                "bucket": int(leg.bucket),
                "amount": str(leg.amount),  # exact: the server reads it as numeric
                "type": leg.type,
                "wallet": leg.is_wallet,
                "active": leg.needs_active,
                "credit": leg.allow_credit,
            }
            for n, leg in enumerate(legs)
        ],
    }
    with connection.cursor() as cursor:
        cursor.execute(_POST_SQL, [json.dumps(document)])
        error, created_at, accounts, balances, helds, monitored = cursor.fetchone()
    if error == "duplicate":
        raise _duplicate(header)
    if error == "tenant_mismatch":
        raise _tenant_mismatch()
    if error is not None:
        raise _refusal(_FUNCTION_ERRORS[error])
    return Posted(
        transaction_id=header["id"],
        created_at=created_at,
        balances={a: (b, h) for a, b, h in zip(accounts, balances, helds)},
        monitored=frozenset(monitored or ()),
    )


def _duplicate(header: dict) -> DomainError:
    if header["external_key"] and JournalTransaction.objects.filter(external_key=header["external_key"]).exists():
        return DomainError(ErrorCode.DUPLICATE_EXTERNAL_KEY, f"{header['external_key']} has already been posted.")
    return DomainError(ErrorCode.ALREADY_REVERSED, "This transaction has already been reversed.")


def _tenant_mismatch() -> RuntimeError:
    # Services look every id up within the caller's tenant; reaching this is a bug, not a refusal.
    return RuntimeError("a posting may not cross tenants")


def _refusal(code: ErrorCode) -> DomainError:
    messages = {
        ErrorCode.INSUFFICIENT_BALANCE: "The wallet's available balance is too low for this amount.",
        ErrorCode.WALLET_SUSPENDED: "The wallet is suspended.",
        ErrorCode.INSUFFICIENT_HELD: "The wallet's held balance is too low for this amount.",
        ErrorCode.CURRENCY_MISMATCH: "The amount's currency is not the wallet's currency.",
    }
    if code == ErrorCode.ACCOUNT_NOT_FOUND:
        return DomainError(ErrorCode.WALLET_NOT_FOUND, "The wallet does not exist.")
    return DomainError(code, messages[code])
