"""Money primitives: currencies, their exponents, and the one parser every amount goes through.

Amounts are `Decimal` end to end. An amount that does not fit its currency is refused, never rounded.
"""
from decimal import Decimal, InvalidOperation

from wallets.errors import DomainError, ErrorCode
from wallets.validation import invalid

CURRENCY_EXPONENTS: dict[str, int] = {"INR": 2, "USD": 2, "USDC": 6}
CURRENCIES = tuple(CURRENCY_EXPONENTS)
CURRENCY_CHOICES = [(code, code) for code in CURRENCIES]
MAX_AMOUNT = Decimal(10) ** 12
ZERO = Decimal(0)


def currency_exponent(currency: str) -> int:
    try:
        return CURRENCY_EXPONENTS[currency]
    except KeyError:
        raise DomainError(
            ErrorCode.CURRENCY_NOT_SUPPORTED,
            f"Currency {currency!r} is not supported; use one of {', '.join(CURRENCIES)}.",
        ) from None


def quantum(currency: str) -> Decimal:
    return Decimal(1).scaleb(-currency_exponent(currency))


def as_currency(value: Decimal, currency: str) -> Decimal:
    """Present a stored value with its currency's exponent (stored values are always exact)."""
    return Decimal(value).quantize(quantum(currency))


def amount_out(value, currency: str | None) -> Decimal | None:
    """An amount as the API writes it: with its currency's decimals (None stays None; with no
    currency known, the value as stored)."""
    if value is None:
        return None
    return as_currency(value, currency) if currency else Decimal(value)


def _significant(value: Decimal) -> tuple[int, tuple[int, ...], int]:
    """(sign, digits, exponent) of a finite Decimal with trailing zeros dropped, exactly:
    `Decimal.normalize()` would round to the context's 28 digits."""
    sign, digits, exp = value.as_tuple()
    digits = tuple(digits)
    while len(digits) > 1 and digits[-1] == 0:
        digits, exp = digits[:-1], exp + 1
    if digits == (0,):
        exp = 0
    return sign, digits, exp


def decimal_places(value: Decimal) -> int:
    """How many decimal places a finite Decimal really has (`1.50` has 1, `1E+3` has 0), exactly."""
    return max(0, -_significant(value)[2])


def canonical_decimal(value: Decimal) -> str:
    """One spelling per value, exactly (`10`, `10.0` and `1E+1` all give `1E+1`)."""
    if not value.is_finite():
        return str(value)
    sign, digits, exp = _significant(value)
    return str(Decimal((0 if digits == (0,) else sign, digits, exp)))


def parse_amount(value, currency: str, *, field: str = "amount", allow_zero: bool = False) -> Decimal:
    """Turn an API value into an exact positive amount of `currency`, or refuse it.

    Accepts JSON numbers (int or Decimal, never float: the JSON parser yields Decimal) and Decimals.
    Refuses strings, booleans, NaN/Infinity, zero or negative amounts, more decimals than the
    currency has, and anything above 10^12.
    """
    exponent = currency_exponent(currency)
    if isinstance(value, bool) or not isinstance(value, (int, Decimal)):
        raise invalid(field, "Must be a number.")
    try:
        amount = Decimal(value)
    except (InvalidOperation, ValueError):
        raise invalid(field, "Must be a number.") from None
    if not amount.is_finite():
        raise invalid(field, "Must be a finite number.")
    if amount.is_signed() or (amount == 0 and not allow_zero):  # -0 too: a sign says negative
        raise invalid(field, "Must be greater than 0." if not allow_zero else "Must not be negative.")
    if amount > MAX_AMOUNT:
        raise invalid(field, f"Must not exceed {MAX_AMOUNT:,}.")
    if decimal_places(amount) > exponent:
        raise invalid(field, f"{currency} amounts have at most {exponent} decimal places.")
    return amount.quantize(quantum(currency))
