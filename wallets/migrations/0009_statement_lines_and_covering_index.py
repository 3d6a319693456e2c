"""The posting function, and history without counting.

`ledger_post(p jsonb)` posts one journal transaction in one call (PostgreSQL only; the Python engine
in `wallets.ledger` applies the same rules on SQLite). The posting arrives as one JSON document, so
the client encodes it with the C JSON encoder. Each wallet keeps its number of statement lines,
counted in the same UPDATE as its balance, and the (account, created_at) index covers the columns a
history page and a point-in-time balance read.

Entries carry no foreign key to their account: an FK check takes a KEY SHARE lock on the referenced
row, so every posting would lock a system-account stripe and concurrent postings would pile up
MultiXacts on it, making the stripes hot rows again. The function checks every leg instead (wallets
locked and checked, system legs must be system accounts of the leg's currency), and `reconcile`
reports any entry whose account is missing or holds another currency.
"""
from django.db import migrations, models

BACKFILL = """
UPDATE wallets_account SET statement_lines = (
    SELECT count(DISTINCT e.transaction_id) FROM wallets_entry e WHERE e.account_id = wallets_account.id
) WHERE kind = 'wallet'
"""

FUNCTION = r"""
CREATE OR REPLACE FUNCTION ledger_post(
    p jsonb,
    OUT o_error text, OUT o_created_at timestamptz,
    OUT o_accounts uuid[], OUT o_balances numeric[], OUT o_helds numeric[]
) LANGUAGE plpgsql AS $$
DECLARE
    w record;
    a record;
    v_txn uuid := (p->>'id')::uuid;
    v_balance numeric;
    v_held numeric;
BEGIN
    o_accounts := '{}'; o_balances := '{}'; o_helds := '{}';
    FOR w IN
        SELECT l.account AS id, min(l.currency) AS currency, count(DISTINCT l.currency) AS currencies,
               sum(l.amount) AS d_total,
               sum(CASE WHEN l.bucket = 1 THEN l.amount ELSE 0 END) AS d_held,
               sum(CASE WHEN l.bucket = 0 THEN l.amount ELSE 0 END) AS d_avail,
               bool_or(l.active) AS need_active,
               bool_or(l.credit) AS may_use_credit
          FROM jsonb_to_recordset(p->'legs')
               AS l(account uuid, currency text, bucket smallint, amount numeric, wallet boolean,
                    active boolean, credit boolean)
         WHERE l.wallet
         GROUP BY l.account
         ORDER BY l.account
    LOOP
        SELECT acc.kind, acc.currency, acc.status, acc.balance, acc.held_balance, acc.credit_limit INTO a
          FROM wallets_account acc WHERE acc.id = w.id FOR UPDATE;
        IF NOT FOUND OR a.kind <> 'wallet' THEN
            o_error := 'account_not_found'; RETURN;
        ELSIF a.currency <> w.currency OR w.currencies <> 1 THEN
            o_error := 'currency_mismatch'; RETURN;
        ELSIF w.need_active AND a.status <> 'active' THEN
            o_error := 'wallet_suspended'; RETURN;
        END IF;
        v_balance := a.balance + w.d_total;
        v_held := a.held_balance + w.d_held;
        IF v_held < 0 THEN
            o_error := 'insufficient_held_balance'; RETURN;
        ELSIF w.d_avail < 0 AND v_balance - v_held < (-a.credit_limit * w.may_use_credit::int) THEN
            o_error := 'insufficient_balance'; RETURN;
        END IF;
        o_accounts := o_accounts || w.id;
        o_balances := o_balances || v_balance;
        o_helds := o_helds || v_held;
    END LOOP;

    -- A system leg must name a system account of its currency (read without a lock).
    IF EXISTS (SELECT 1 FROM jsonb_to_recordset(p->'legs') AS l(account uuid, currency text, wallet boolean)
               LEFT JOIN wallets_account acc ON acc.id = l.account
               WHERE NOT l.wallet AND (acc.id IS NULL OR acc.kind <> 'system' OR acc.currency <> l.currency)) THEN
        o_error := 'account_not_found'; RETURN;
    END IF;

    -- Taken after the locks, so each wallet's entries are in time order of their postings.
    o_created_at := clock_timestamp();
    INSERT INTO wallets_journaltransaction
        (id, kind, description, reference_type, reference_id, external_key, reverses_id, metadata,
         created_by_id, created_at)
    VALUES (v_txn, p->>'kind', p->>'description', p->>'reference_type', p->>'reference_id',
            p->>'external_key', (p->>'reverses')::uuid, coalesce(p->'metadata', '{}'::jsonb),
            (p->>'created_by')::uuid, o_created_at)
    ON CONFLICT DO NOTHING;
    IF NOT FOUND THEN
        o_error := 'duplicate'; RETURN;  -- external_key or reverses already posted
    END IF;
    UPDATE wallets_account acc
       SET balance = n.balance, held_balance = n.held, statement_lines = acc.statement_lines + 1,
           updated_at = o_created_at
      FROM unnest(o_accounts, o_balances, o_helds) AS n(id, balance, held)
     WHERE acc.id = n.id;
    INSERT INTO wallets_entry
        (transaction_id, account_id, currency, bucket, amount, type, balance_after, held_after, created_at)
    SELECT v_txn, l.account, l.currency, l.bucket, l.amount, l.type, r.balance, r.held, o_created_at
      FROM jsonb_to_recordset(p->'legs')
           AS l(n int, account uuid, currency text, bucket smallint, amount numeric, type text)
      LEFT JOIN unnest(o_accounts, o_balances, o_helds) AS r(id, balance, held) ON r.id = l.account
     ORDER BY l.n;
END $$;
"""


def backward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("DROP FUNCTION IF EXISTS ledger_post(jsonb);", params=None)


def forward(apps, schema_editor):
    schema_editor.execute(BACKFILL)
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(FUNCTION, params=None)


class Migration(migrations.Migration):

    dependencies = [
        ('wallets', '0006_leaner_ledger_indexes'),
    ]

    operations = [
        migrations.RemoveIndex(
            model_name='entry',
            name='entry_account_time_idx',
        ),
        migrations.AddField(
            model_name='account',
            name='statement_lines',
            field=models.PositiveBigIntegerField(default=0),
        ),
        migrations.RunPython(forward, backward),
        migrations.AddIndex(
            model_name='entry',
            index=models.Index(fields=['account', 'created_at', 'id'], include=('transaction', 'bucket', 'amount', 'type', 'balance_after', 'held_after', 'currency'), name='entry_account_time_idx'),
        ),
    ]
