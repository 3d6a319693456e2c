-- ledger_entry_partition(p_month date): the month's partition of wallets_entry, created if missing
-- (PostgreSQL). Returns its name when it was created, NULL when it was there already.
--
-- Months are UTC calendar months, named wallets_entry_YYYY_MM. Rows of the month already caught by
-- the default partition (no partition existed when they were written) are moved into the new one:
-- the default partition is detached (which takes its triggers away), the rows copied through the
-- parent (so the balance check runs on them again at commit) and deleted from it, and it is
-- attached again, and the moved rows' balance checks run there and then. A month that was archived (wallets_ledgerarchive) is refused. Migration 0025
-- loads this file; the periodic job `wallets.entry_partitions_ahead` calls it.
CREATE OR REPLACE FUNCTION ledger_entry_partition(p_month date) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    v_month date := date_trunc('month', p_month)::date;
    v_from timestamptz := v_month::timestamp AT TIME ZONE 'UTC';
    v_to timestamptz := (v_month + interval '1 month')::timestamp AT TIME ZONE 'UTC';
    v_name text := 'wallets_entry_' || to_char(v_month, 'YYYY_MM');
BEGIN
    IF EXISTS (SELECT 1 FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
                WHERE i.inhparent = 'wallets_entry'::regclass AND c.relname = v_name) THEN
        RETURN NULL;
    END IF;
    IF EXISTS (SELECT 1 FROM wallets_ledgerarchive WHERE month = v_month) THEN
        RAISE EXCEPTION 'entries of % are archived: no partition is made for that month again',
            to_char(v_month, 'YYYY-MM') USING ERRCODE = 'WL012';
    END IF;
    IF EXISTS (SELECT 1 FROM wallets_entry_default WHERE created_at >= v_from AND created_at < v_to) THEN
        ALTER TABLE wallets_entry DETACH PARTITION wallets_entry_default;
        EXECUTE format('CREATE TABLE %I PARTITION OF wallets_entry FOR VALUES FROM (%L) TO (%L)', v_name, v_from, v_to);
        INSERT INTO wallets_entry
            (id, transaction_id, account_id, currency, bucket, amount, type, balance_after, held_after, created_at)
        SELECT id, transaction_id, account_id, currency, bucket, amount, type, balance_after, held_after, created_at
          FROM wallets_entry_default WHERE created_at >= v_from AND created_at < v_to;
        DELETE FROM wallets_entry_default WHERE created_at >= v_from AND created_at < v_to;
        ALTER TABLE wallets_entry ATTACH PARTITION wallets_entry_default DEFAULT;
        -- The moved rows' balance checks run now, while their partition is attached: a caller that
        -- detaches it in the same transaction (an archive) would otherwise leave them to a commit
        -- that can no longer find them.
        SET CONSTRAINTS entry_balanced IMMEDIATE;
        SET CONSTRAINTS entry_balanced DEFERRED;
    ELSE
        EXECUTE format('CREATE TABLE %I PARTITION OF wallets_entry FOR VALUES FROM (%L) TO (%L)', v_name, v_from, v_to);
    END IF;
    RETURN v_name;
END $$;
