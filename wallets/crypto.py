"""Field encryption and keyed hashes for personal data at rest (bank account and id numbers,
webhook signing secrets).

`FIELD_ENCRYPTION_KEY` holds one or more comma-separated Fernet keys: the first encrypts, all
decrypt. A keyed hash (HMAC-SHA256 under a key derived from an encryption key) finds duplicates
without storing the number in clear; it is written under the first key and looked up under every key.

Rotation without downtime (`docs/security.md`): put a new key first (`new,old`) on every process,
run `python manage.py rotate_encryption_key` (re-encrypts and re-hashes under the new key, in short
batches, while the service runs), check it with `--check`, then drop the old key.
"""
import hashlib
import hmac
import secrets
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings


def _key_list(keys: str) -> list[str]:
    return [key.strip() for key in keys.split(",") if key.strip()]


@lru_cache(maxsize=4)
def _fernet(keys: str) -> MultiFernet:
    return MultiFernet([Fernet(key.encode()) for key in _key_list(keys)])


@lru_cache(maxsize=4)
def _primary(keys: str) -> Fernet:
    return Fernet(_key_list(keys)[0].encode())


def encrypt(value: str) -> str:
    return _fernet(settings.FIELD_ENCRYPTION_KEY).encrypt(value.encode()).decode()


def decrypt(token: str) -> str:
    return _fernet(settings.FIELD_ENCRYPTION_KEY).decrypt(token.encode()).decode()


def is_current(token: str) -> bool:
    """Whether the value is encrypted under the first (current) key."""
    try:
        _primary(settings.FIELD_ENCRYPTION_KEY).decrypt(token.encode())
    except InvalidToken:
        return False
    return True


def _hash_under(key: str, value: str, purpose: str) -> str:
    derived = hashlib.sha256(b"keyed-hash:" + purpose.encode() + b":" + key.encode()).digest()
    return hmac.new(derived, value.encode(), hashlib.sha256).hexdigest()


def keyed_hash(value: str, *, purpose: str) -> str:
    """The hash stored with a new value: under the current key."""
    return _hash_under(_key_list(settings.FIELD_ENCRYPTION_KEY)[0], value, purpose)


def keyed_hashes(value: str, *, purpose: str) -> list[str]:
    """The hashes the value may be stored under (every configured key): for lookups during a rotation."""
    return [_hash_under(key, value, purpose) for key in _key_list(settings.FIELD_ENCRYPTION_KEY)]


def new_key() -> str:
    return Fernet.generate_key().decode()


API_KEY_PREFIX = "wk"


def api_key_hash(raw: str) -> str:
    """API keys are long random secrets, so one SHA-256 is enough (and cheap on every request)."""
    return hashlib.sha256(raw.encode()).hexdigest()


def api_key_generate() -> tuple[str, str]:
    """A new key as (prefix, full key). The prefix finds the row; only the hash of the key is kept."""
    prefix = secrets.token_hex(6)
    return prefix, f"{API_KEY_PREFIX}_{prefix}_{secrets.token_urlsafe(32)}"
