"""API keys: a tenant's credentials, stored as a hash; the raw key is shown once."""
from wallets.crypto import api_key_generate, api_key_hash
from wallets.models import ApiKey, Tenant
from wallets.validation import invalid


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
    authenticating at once in every process (keys are read on every request)."""
    if not name or not name.strip():
        raise invalid("name", "A name is required.")
    ApiKey.objects.filter(pk=key.pk).update(name=name.strip()[:100], is_active=is_active)
    key.refresh_from_db()
    return key

