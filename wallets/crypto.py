"""Field encryption and keyed hashes for personal data at rest (bank account and id numbers).

`FIELD_ENCRYPTION_KEY` holds one or more comma-separated Fernet keys: the first encrypts, all
decrypt, so keys can be rotated. A keyed hash (HMAC-SHA256 under a key derived from the first key)
finds duplicates without storing the number in clear.
"""
import hashlib
import hmac
import secrets
from functools import lru_cache

from cryptography.fernet import Fernet, MultiFernet
from django.conf import settings


@lru_cache(maxsize=4)
def _fernet(keys: str) -> MultiFernet:
    return MultiFernet([Fernet(key.strip().encode()) for key in keys.split(",") if key.strip()])


def encrypt(value: str) -> str:
    return _fernet(settings.FIELD_ENCRYPTION_KEY).encrypt(value.encode()).decode()


def decrypt(token: str) -> str:
    return _fernet(settings.FIELD_ENCRYPTION_KEY).decrypt(token.encode()).decode()


def keyed_hash(value: str, *, purpose: str) -> str:
    primary = settings.FIELD_ENCRYPTION_KEY.split(",")[0].strip().encode()
    key = hashlib.sha256(b"keyed-hash:" + purpose.encode() + b":" + primary).digest()
    return hmac.new(key, value.encode(), hashlib.sha256).hexdigest()


API_KEY_PREFIX = "wk"


def api_key_hash(raw: str) -> str:
    """API keys are long random secrets, so one SHA-256 is enough (and cheap on every request)."""
    return hashlib.sha256(raw.encode()).hexdigest()


def api_key_generate() -> tuple[str, str]:
    """A new key as (prefix, full key). The prefix finds the row; only the hash of the key is kept."""
    prefix = secrets.token_hex(6)
    return prefix, f"{API_KEY_PREFIX}_{prefix}_{secrets.token_urlsafe(32)}"
