-- ledger_post(p jsonb): post one journal transaction in one call (PostgreSQL).
--
-- `p` is {"id", "kind", "description", "reference_type", "reference_id", "external_key", "reverses",
-- "metadata", "created_by", "legs": [{"n", "account", "currency", "bucket", "amount", "type",
-- "wallet", "active", "credit"}]}. Wallet legs are locked in primary-key order and checked against
-- the locked row (kind, currency, status, overdraft within the credit limit, held part); system legs
-- must name system accounts of their currency; every account must belong to one tenant. A refusal
-- returns `o_error` and writes nothing; otherwise the transaction, its entries and the new cached
-- balances are written, and the new balances returned, with the wallets a low-balance monitor watches.
-- It is the one posting engine (`wallets.ledger.post` calls it). Migrations load this file; a test
-- checks the database holds this text.
CREATE OR REPLACE FUNCTION ledger_post(
    p jsonb,
    OUT o_error text, OUT o_created_at timestamptz,
    OUT o_accounts uuid[], OUT o_balances numeric[], OUT o_helds numeric[], OUT o_monitored uuid[]
) LANGUAGE plpgsql AS $$
DECLARE
    w record;
    a record;
    s record;
    v_txn uuid := (p->>'id')::uuid;
    v_tenant text;
    v_balance numeric;
    v_held numeric;
BEGIN
    o_accounts := '{}'; o_balances := '{}'; o_helds := '{}'; o_monitored := '{}';
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
        SELECT acc.kind, acc.currency, acc.status, acc.balance, acc.held_balance, acc.credit_limit,
               acc.tenant_id, acc.monitored INTO a
          FROM wallets_account acc WHERE acc.id = w.id FOR UPDATE;
        IF NOT FOUND OR a.kind <> 'wallet' THEN
            o_error := 'account_not_found'; RETURN;
        ELSIF a.currency <> w.currency OR w.currencies <> 1 THEN
            o_error := 'currency_mismatch'; RETURN;
        ELSIF v_tenant IS NOT NULL AND a.tenant_id <> v_tenant THEN
            o_error := 'tenant_mismatch'; RETURN;
        ELSIF w.need_active AND a.status <> 'active' THEN
            o_error := 'wallet_suspended'; RETURN;
        END IF;
        v_tenant := a.tenant_id;
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
        IF a.monitored THEN
            o_monitored := o_monitored || w.id;
        END IF;
    END LOOP;

    -- A system leg must name a system account of its currency, and of the same tenant as every
    -- other leg (read without a lock: system accounts keep no balance to check).
    SELECT bool_or(acc.id IS NULL OR acc.kind <> 'system' OR acc.currency <> l.currency) AS bad,
           min(acc.tenant_id) AS t_min, max(acc.tenant_id) AS t_max
      INTO s
      FROM jsonb_to_recordset(p->'legs') AS l(account uuid, currency text, wallet boolean)
      LEFT JOIN wallets_account acc ON acc.id = l.account
     WHERE NOT l.wallet;
    IF s.bad THEN
        o_error := 'account_not_found'; RETURN;
    ELSIF s.t_min <> s.t_max OR s.t_min <> coalesce(v_tenant, s.t_min) THEN
        o_error := 'tenant_mismatch'; RETURN;
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
