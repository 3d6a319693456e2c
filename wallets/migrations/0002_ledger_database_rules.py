"""PostgreSQL-side ledger rules: append-only ledger rows and balanced transactions checked at commit.
The posting function `ledger_post` is defined in migration 0009.

On other databases (the SQLite quick start) this migration does nothing; the Python engine in
`wallets.ledger` applies the same rules there.
"""
from django.db import migrations

FORWARD = r"""
-- Ledger rows are never changed or removed; mistakes are corrected by reversing transactions.
CREATE FUNCTION ledger_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'ledger rows are append-only: % on % refused', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'WL011';
END $$;
CREATE TRIGGER entry_append_only BEFORE UPDATE OR DELETE ON wallets_entry
    FOR EACH ROW EXECUTE FUNCTION ledger_refuse_change();
CREATE TRIGGER journaltransaction_append_only BEFORE UPDATE OR DELETE ON wallets_journaltransaction
    FOR EACH ROW EXECUTE FUNCTION ledger_refuse_change();

-- At commit, every journal transaction has two or more entries summing to zero per currency.
CREATE FUNCTION ledger_check_balanced(v_txn uuid) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    v_count bigint;
    v_unbalanced boolean;
BEGIN
    SELECT coalesce(sum(n), 0), coalesce(bool_or(s <> 0), false) INTO v_count, v_unbalanced
    FROM (SELECT count(*) AS n, sum(amount) AS s FROM wallets_entry
          WHERE transaction_id = v_txn GROUP BY currency) per_currency;
    IF v_count < 2 OR v_unbalanced THEN
        RAISE EXCEPTION 'journal transaction % is unbalanced or has fewer than two entries', v_txn
            USING ERRCODE = 'check_violation';
    END IF;
END $$;
CREATE FUNCTION ledger_entry_balanced() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM ledger_check_balanced(NEW.transaction_id);
    RETURN NULL;
END $$;
CREATE FUNCTION ledger_transaction_balanced() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM ledger_check_balanced(NEW.id);
    RETURN NULL;
END $$;
CREATE CONSTRAINT TRIGGER entry_balanced AFTER INSERT ON wallets_entry
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION ledger_entry_balanced();
CREATE CONSTRAINT TRIGGER journaltransaction_balanced AFTER INSERT ON wallets_journaltransaction
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION ledger_transaction_balanced();

"""

BACKWARD = r"""
DROP TRIGGER IF EXISTS journaltransaction_balanced ON wallets_journaltransaction;
DROP TRIGGER IF EXISTS entry_balanced ON wallets_entry;
DROP FUNCTION IF EXISTS ledger_transaction_balanced();
DROP FUNCTION IF EXISTS ledger_entry_balanced();
DROP FUNCTION IF EXISTS ledger_check_balanced(uuid);
DROP TRIGGER IF EXISTS journaltransaction_append_only ON wallets_journaltransaction;
DROP TRIGGER IF EXISTS entry_append_only ON wallets_entry;
DROP FUNCTION IF EXISTS ledger_refuse_change();
"""


def forward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(FORWARD, params=None)


def backward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(BACKWARD, params=None)


class Migration(migrations.Migration):
    dependencies = [("wallets", "0001_initial")]
    operations = [migrations.RunPython(forward, backward)]
