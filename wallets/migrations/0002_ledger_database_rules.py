"""PostgreSQL-side ledger rules: append-only ledger rows, balanced transactions checked at commit,
entries tied to their account's currency, and the one-round-trip posting function `ledger_post`.

On other databases (the SQLite quick start) this migration does nothing; the Python engine in
`wallets.ledger` applies the same rules there.
"""
from django.db import migrations

FORWARD = r"""
-- An entry's currency is its account's currency.
ALTER TABLE wallets_entry
    ADD CONSTRAINT entry_account_currency_fk FOREIGN KEY (account_id, currency)
    REFERENCES wallets_account (id, currency) DEFERRABLE INITIALLY IMMEDIATE;

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

-- One posting in one call. Every wallet leg's row is locked in primary-key order and checked against
-- the locked values (status, held >= 0, and a debit of the available part may not take it below
-- zero, or below -credit_limit for legs allowed to use credit). A refusal is returned in
-- o_error with nothing written, so a caller's transaction stays usable; otherwise the transaction,
-- its entries and the new cached balances are written. System accounts keep no cached balance and
-- are never locked here.
CREATE FUNCTION ledger_post(
    p_txn_id uuid, p_kind text, p_description text, p_reference_type text, p_reference_id text,
    p_external_key text, p_reverses uuid, p_metadata jsonb, p_created_by uuid,
    p_accounts uuid[], p_currencies text[], p_buckets smallint[], p_amounts numeric[],
    p_types text[], p_is_wallet boolean[], p_require_active boolean[], p_allow_credit boolean[],
    OUT o_error text, OUT o_created_at timestamptz,
    OUT o_accounts uuid[], OUT o_balances numeric[], OUT o_helds numeric[]
) LANGUAGE plpgsql AS $$
DECLARE
    w record;
    a record;
    v_balance numeric;
    v_held numeric;
BEGIN
    o_accounts := '{}'; o_balances := '{}'; o_helds := '{}';
    FOR w IN
        SELECT l.a AS id, min(l.c) AS currency, count(DISTINCT l.c) AS currencies,
               sum(l.m) AS d_total,
               sum(CASE WHEN l.b = 1 THEN l.m ELSE 0 END) AS d_held,
               sum(CASE WHEN l.b = 0 THEN l.m ELSE 0 END) AS d_avail,
               bool_or(l.r) AS need_active,
               bool_or(l.k) AS may_use_credit
        FROM unnest(p_accounts, p_currencies, p_buckets, p_amounts, p_is_wallet, p_require_active, p_allow_credit)
             AS l(a, c, b, m, w, r, k)
        WHERE l.w
        GROUP BY l.a
        ORDER BY l.a
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

    -- A leg marked as a system account must really be one, or a wallet's cached balance would drift.
    IF EXISTS (SELECT 1 FROM unnest(p_accounts, p_is_wallet) AS l(id, w)
               LEFT JOIN wallets_account acc ON acc.id = l.id
               WHERE NOT l.w AND (acc.id IS NULL OR acc.kind <> 'system')) THEN
        o_error := 'account_not_found'; RETURN;
    END IF;

    -- Taken after the locks, so each wallet's entries are in time order of their postings.
    o_created_at := clock_timestamp();
    INSERT INTO wallets_journaltransaction
        (id, kind, description, reference_type, reference_id, external_key, reverses_id, metadata,
         created_by_id, created_at)
    VALUES (p_txn_id, p_kind, p_description, p_reference_type, p_reference_id, p_external_key,
            p_reverses, p_metadata, p_created_by, o_created_at)
    ON CONFLICT DO NOTHING;
    IF NOT FOUND THEN
        o_error := 'duplicate'; RETURN;  -- external_key or reverses already posted
    END IF;
    UPDATE wallets_account acc
       SET balance = n.balance, held_balance = n.held, updated_at = o_created_at
      FROM unnest(o_accounts, o_balances, o_helds) AS n(id, balance, held)
     WHERE acc.id = n.id;
    INSERT INTO wallets_entry
        (transaction_id, account_id, currency, bucket, amount, type, balance_after, held_after, created_at)
    SELECT p_txn_id, l.a, l.c, l.b, l.m, l.t, r.balance, r.held, o_created_at
      FROM unnest(p_accounts, p_currencies, p_buckets, p_amounts, p_types) WITH ORDINALITY AS l(a, c, b, m, t, n)
      LEFT JOIN unnest(o_accounts, o_balances, o_helds) AS r(id, balance, held) ON r.id = l.a
     ORDER BY l.n;
END $$;
"""

BACKWARD = r"""
DROP FUNCTION IF EXISTS ledger_post(uuid, text, text, text, text, text, uuid, jsonb, uuid, uuid[], text[],
    smallint[], numeric[], text[], boolean[], boolean[], boolean[]);
DROP TRIGGER IF EXISTS journaltransaction_balanced ON wallets_journaltransaction;
DROP TRIGGER IF EXISTS entry_balanced ON wallets_entry;
DROP FUNCTION IF EXISTS ledger_transaction_balanced();
DROP FUNCTION IF EXISTS ledger_entry_balanced();
DROP FUNCTION IF EXISTS ledger_check_balanced(uuid);
DROP TRIGGER IF EXISTS journaltransaction_append_only ON wallets_journaltransaction;
DROP TRIGGER IF EXISTS entry_append_only ON wallets_entry;
DROP FUNCTION IF EXISTS ledger_refuse_change();
ALTER TABLE wallets_entry DROP CONSTRAINT IF EXISTS entry_account_currency_fk;
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
