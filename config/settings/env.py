"""The one reader of the service's environment: each setting is read here, typed and checked, and
noted, so that docs/configuration.md can be held to every variable the service reads (a test does).

Numbers take the digits 0-9 only (Python's int() also reads other scripts' digits); a value that does
not parse stops the service at start with the variable's name in the message."""
import os
from decimal import Decimal
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

# Every variable read, in the order the settings read them.
READ: list[str] = []


def _raw(name: str) -> str:
    if name not in READ:
        READ.append(name)
    return os.environ.get(name, "").strip()


def string(name: str, default: str = "") -> str:
    return _raw(name) or default


def boolean(name: str, default: bool = False) -> bool:
    value = _raw(name).lower()
    if not value:
        return default
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name} must be 1/0, true/false, yes/no or on/off, not {value!r}.")


def integer(name: str, default: int) -> int:
    value = _raw(name)
    if not value:
        return default
    if not (value.isascii() and value.lstrip("-").isdigit()):
        raise ImproperlyConfigured(f"{name} must be an integer written with the digits 0-9, not {value!r}.")
    return int(value)


def decimal(name: str, default: str) -> Decimal:
    """A decimal (`10`, `2.5`), written with the digits 0-9."""
    value = _raw(name) or default
    whole, _, fraction = value.partition(".")
    if not (value.isascii() and whole.isdigit() and (fraction == "" or fraction.isdigit())):
        raise ImproperlyConfigured(f"{name} must be a number written with the digits 0-9, not {value!r}.")
    return Decimal(value)


def items(name: str, default: str = "") -> list[str]:
    """A comma-separated list."""
    return [item.strip() for item in (_raw(name) or default).split(",") if item.strip()]


def path(name: str, default: Path) -> Path:
    value = _raw(name)
    return Path(value) if value else default


def choice(name: str, default: str, choices: tuple[str, ...]) -> str:
    value = (_raw(name) or default).lower()
    if value not in choices:
        raise ImproperlyConfigured(f"{name} must be one of {', '.join(choices)}, not {value!r}.")
    return value
