"""Idempotency keys of API-key callers belong to the tenant, not to one key.

Records were kept per API key (`client = 'key:<id>'`), so the same request retried with a second key
of the same partner (a rotated key) ran again. They are now kept per tenant (`'tenant:<code>'`).
Where two keys of one tenant used the same `Idempotency-Key`, the newest record takes the tenant's
name (the one a retry most likely repeats) and the others keep their old one until the purge drops
them; a recharge or payout such a record left unfinished is still settled by `sync_gateway_status`.
A key the tenant already has a record of (written by the new code before this ran, or before a
downgrade and this again) keeps that record.

Deploying it: stop every process of the old code before this migration runs. The old code looks its
records up under the key's old name only, so a retry answered by an old process after this ran (or
after a new process wrote the tenant's record) would run again. A record an old process still wrote
under its key's old name was looked up by the new code for a while; 0029 renames what is left.

Going back leaves the records as they are: the old code no longer finds them, so a retry after a
downgrade runs again, as it would have with a second key.
"""
from django.db import migrations

PER_TENANT = """
WITH ranked AS (
    SELECT r.id, 'tenant:' || k.tenant_id AS client,
           row_number() OVER (PARTITION BY k.tenant_id, r.key ORDER BY r.created_at DESC, r.id DESC) AS n
      FROM wallets_idempotencyrecord r
      JOIN wallets_apikey k ON r.client = 'key:' || k.id
     WHERE NOT EXISTS (SELECT 1 FROM wallets_idempotencyrecord t
                        WHERE t.client = 'tenant:' || k.tenant_id AND t.key = r.key)
)
UPDATE wallets_idempotencyrecord SET client = ranked.client
  FROM ranked
 WHERE wallets_idempotencyrecord.id = ranked.id AND ranked.n = 1
"""


class Migration(migrations.Migration):
    dependencies = [("wallets", "0026_statement_page_function")]

    operations = [migrations.RunSQL(PER_TENANT, migrations.RunSQL.noop)]
