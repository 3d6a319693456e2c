"""Input rules every layer shares: the one validation error, ids, numbers, months and JSON documents.

Numbers are read from text with ASCII digits only (`int()`, `Decimal()` and `uuid.UUID()` also take
Arabic-Indic or full-width digits and `_` separators, which would let one value be spelled many
ways). Regular expressions use `[0-9]`, never `\\d`, and match the whole text.
"""
import re
import uuid
from datetime import datetime, timedelta
from datetime import timezone as dt_timezone
from decimal import Decimal, InvalidOperation

from wallets.errors import DomainError, ErrorCode

# How deep a request body or a stored JSON document may nest (a money API body is 2 or 3 levels).
MAX_JSON_DEPTH = 32
# The largest integer a page, offset or limit may be: far beyond any ledger, well inside bigint.
MAX_QUERY_INT = 10**15
_ASCII_INT = re.compile(r"[0-9]{1,18}")
_ASCII_DECIMAL = re.compile(r"[0-9]{1,13}(\.[0-9]{1,6})?")
_UUID = re.compile(r"[0-9a-fA-F]{8}(-?)[0-9a-fA-F]{4}\1[0-9a-fA-F]{4}\1[0-9a-fA-F]{4}\1[0-9a-fA-F]{12}")
_MONTH = re.compile(r"([0-9]{4})-(0[1-9]|1[0-2])")
# Magnitudes a stored JSON number may have (PostgreSQL's jsonb keeps them as exact numerics).
_JSON_EXPONENT_RANGE = range(-1000, 1001)


def invalid(field: str, message: str) -> DomainError:
    """The validation error of one field: 400 in the WeBuddy dialect, 422 in the TMR dialect."""
    return DomainError(ErrorCode.VALIDATION_ERROR, f"{field}: {message}", fields={field: [message]})


def parse_uuid(value) -> uuid.UUID | None:
    """An id as a UUID: 32 hex digits, in any case, hyphenated as 8-4-4-4-12 or not at all; else None.
    (`uuid.UUID()` would also take braces, `urn:uuid:`, stray hyphens and other scripts' digits.)"""
    if isinstance(value, uuid.UUID):
        return value
    if not isinstance(value, str) or not _UUID.fullmatch(value):
        return None
    return uuid.UUID(value)


def parse_id(value, code: ErrorCode, message: str) -> uuid.UUID:
    """An id from a path or body; anything that is not one of ours is simply not found."""
    parsed = parse_uuid(value)
    if parsed is None:
        raise DomainError(code, message)
    return parsed


def parse_ascii_int(text: str) -> int | None:
    """A non-negative integer written in ASCII digits, or None."""
    if not isinstance(text, str) or not _ASCII_INT.fullmatch(text):
        return None
    return int(text)


def parse_ascii_decimal(text: str, *, field: str) -> Decimal:
    """A non-negative decimal written in ASCII digits (`1500` or `1500.50`), for operators' input."""
    text = text.strip() if isinstance(text, str) else text
    if not isinstance(text, str) or not _ASCII_DECIMAL.fullmatch(text):
        raise invalid(field, "A number written with the digits 0-9, like 1500 or 1500.50.")
    try:
        return Decimal(text)
    except InvalidOperation:  # pragma: no cover - the pattern admits only valid decimals
        raise invalid(field, "Not a number.") from None


def parse_month(value, *, field: str = "month") -> tuple[datetime, datetime]:
    """[start, end) in UTC of a month written YYYY-MM (ASCII digits, year 1970 to 9999)."""
    match = _MONTH.fullmatch(value) if isinstance(value, str) else None
    if not match:
        raise invalid(field, "Must be a month as YYYY-MM.")
    year, number = int(match.group(1)), int(match.group(2))
    if not 1970 <= year <= 9999:
        raise invalid(field, "The year must be between 1970 and 9999.")
    start = datetime(year, number, 1, tzinfo=dt_timezone.utc)
    if number == 12:
        # The end of December 9999 is not a datetime; no such month can have ended anyway.
        end = datetime(year + 1, 1, 1, tzinfo=dt_timezone.utc) if year < 9999 else datetime.max.replace(tzinfo=dt_timezone.utc)
    else:
        end = datetime(year, number + 1, 1, tzinfo=dt_timezone.utc)
    return start, end


_DURATION = re.compile(r"([0-9]{1,6})([smhd])")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


def parse_duration(text: str) -> timedelta | None:
    """`90m`, `6h`, `2d` (digits 0-9 and a unit) as a timedelta, or None."""
    match = _DURATION.fullmatch(text.strip()) if isinstance(text, str) else None
    if not match:
        return None
    return timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})


def json_depth_check(value, *, limit: int = MAX_JSON_DEPTH) -> None:
    """Raise ValueError if `value` (parsed JSON) nests containers deeper than `limit`."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > limit:
            raise ValueError(f"nested deeper than {limit} levels")
        stack.extend((child, depth + 1) for child in children if isinstance(child, (dict, list)))


def _storable_text(text: str) -> bool:
    if "\x00" in text:
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate (`"\ud800"`)
        return False
    return True


def json_document_check(value, *, field: str):
    """A JSON document a client asks us to keep (a user's `settings`), returned unchanged if the
    database can store it exactly: numbers finite and of sane magnitude, text without NUL characters
    or lone surrogates, nesting within MAX_JSON_DEPTH. Otherwise a validation error of `field`."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > MAX_JSON_DEPTH:
            raise invalid(field, f"Nested deeper than {MAX_JSON_DEPTH} levels.")
        if isinstance(item, dict):
            for key, child in item.items():
                if not isinstance(key, str) or not _storable_text(key):
                    raise invalid(field, "Keys must be text without NUL characters or lone surrogates.")
                stack.append((child, depth + 1))
        elif isinstance(item, list):
            stack.extend((child, depth + 1) for child in item)
        elif isinstance(item, str):
            if not _storable_text(item):
                raise invalid(field, "Text may not contain NUL characters or lone surrogates.")
        elif isinstance(item, Decimal):
            if not item.is_finite():
                raise invalid(field, "NaN and Infinity are not JSON numbers.")
            if item and item.adjusted() not in _JSON_EXPONENT_RANGE:
                raise invalid(field, "A number is too large or too small to keep exactly.")
        elif isinstance(item, float):
            raise invalid(field, "Numbers must be exact.")  # never from the API's parser
        elif not (item is None or isinstance(item, (bool, int))):
            raise invalid(field, "Not a JSON value.")
    return value
