"""Records an old process wrote under an API key's name after 0027 ran take the tenant's name.

Until now the code also looked a key's records up under the API key's old name (`'key:<id>'`); it no
longer does. A record still under that name (written by a process of the code before 0027 while a
deploy rolled out) is renamed here exactly as 0027 renamed them: the newest per tenant and key, unless
the tenant already has a record of that key. An unfinished one (a payout or recharge in its phases)
is then resumed by a retry with its key, never started again.
"""
from django.db import migrations

# 0027's statement, as it was (a migration keeps its own copy).
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
    dependencies = [("wallets", "0028_recharge_capture_claim")]

    operations = [migrations.RunSQL(PER_TENANT, migrations.RunSQL.noop)]
