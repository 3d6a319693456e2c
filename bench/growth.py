"""How costs grow with the ledger: history page, point-in-time balance and reconcile at growing
ledger sizes, and monthly payouts for many experts.

History is loaded the way a data import would be: balanced transfers between the growth wallets,
oldest first, with running balances, written by COPY (triggers off for the load only) into the
monthly partitions of its dates (made first, as the periodic job makes them ahead), and the
cached balances moved to match; `reconcile` then proves the loaded ledger whole.
"""
import random
import time
import uuid
from collections import Counter
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import psycopg

from bench.env import database_url
from bench.stats import percentile

FUNDING = Decimal("1000000.00")


class Loader:
    def __init__(self, wallets: list, seed: int = 7):
        self.wallets = wallets  # [(account_id, user_id)]
        self.balances = {a: Decimal(0) for a, _ in wallets}
        self.lines = {a: 0 for a, _ in wallets}
        self.entries = 0
        self.rng = random.Random(seed)
        self.clearing = None

    def _txn_id(self, at: datetime, n: int) -> uuid.UUID:
        # Time-ordered ids (like uuid7) keep the primary-key index append-only.
        ms = int(at.timestamp() * 1000)
        return uuid.UUID(int=(ms << 80) | (0x7 << 76) | (n & ((1 << 76) - 1)))

    def _rows(self, target_entries: int, start: datetime, end: datetime, clearing: str):
        """Batches of (journal transaction rows, entry rows), oldest first, with running balances."""
        rows_txn, rows_entry = [], []
        if self.entries == 0:
            for i, (account, _) in enumerate(self.wallets):
                at = start + timedelta(microseconds=i)
                txn = self._txn_id(at, self.entries + i)
                self.balances[account] += FUNDING
                self.lines[account] += 1
                rows_txn.append((txn, "deposit", "Imported funding", "{}", at))
                rows_entry.append((txn, clearing, "INR", 0, -FUNDING, "deposit", None, None, at))
                rows_entry.append((txn, account, "INR", 0, FUNDING, "deposit", self.balances[account], Decimal(0), at))
            self.entries += 2 * len(self.wallets)
        transfers = max(0, (target_entries - self.entries) // 2)
        span = (end - start).total_seconds()
        ids = [a for a, _ in self.wallets]
        for i in range(transfers):
            at = start + timedelta(seconds=span * (i + 1) / (transfers + 1))
            a, b = self.rng.sample(ids, 2)
            amount = Decimal(self.rng.randrange(1, 10000)) / 100
            self.balances[a] -= amount
            self.balances[b] += amount
            self.lines[a] += 1
            self.lines[b] += 1
            txn = self._txn_id(at, self.entries)
            self.entries += 2
            rows_txn.append((txn, "transfer", "Imported transfer", "{}", at))
            rows_entry.append((txn, a, "INR", 0, -amount, "debit", self.balances[a], Decimal(0), at))
            rows_entry.append((txn, b, "INR", 0, amount, "credit", self.balances[b], Decimal(0), at))
            if len(rows_txn) >= 200_000:
                yield rows_txn, rows_entry
                rows_txn, rows_entry = [], []
        yield rows_txn, rows_entry

    def load(self, target_entries: int, start: datetime, end: datetime) -> float:
        from wallets.ledger import system_account_id
        from wallets.services.partitions import entry_partitions_ensure

        clearing = str(system_account_id("webuddy", "gateway_clearing", "INR", 0))
        began = time.perf_counter()
        entry_partitions_ensure(since=start.date())
        with psycopg.connect(database_url(), autocommit=False) as conn:
            conn.execute("SET session_replication_role = replica")  # load only: no per-row triggers
            with conn.cursor() as cur:
                for rows_txn, rows_entry in self._rows(target_entries, start, end, clearing):
                    with cur.copy(
                        "COPY wallets_journaltransaction (id, kind, description, metadata, created_at) FROM STDIN"
                    ) as copy:
                        for row in rows_txn:
                            copy.write_row(row)
                    with cur.copy(
                        "COPY wallets_entry (transaction_id, account_id, currency, bucket, amount, type, "
                        "balance_after, held_after, created_at) FROM STDIN"
                    ) as copy:
                        for row in rows_entry:
                            copy.write_row(row)
                cur.execute(
                    "CREATE TEMP TABLE growth_balance (id uuid PRIMARY KEY, balance numeric, lines bigint) ON COMMIT DROP"
                )
                with cur.copy("COPY growth_balance (id, balance, lines) FROM STDIN") as copy:
                    for account, balance in self.balances.items():
                        copy.write_row((account, balance, self.lines[account]))
                cur.execute(
                    "UPDATE wallets_account a SET balance = g.balance, statement_lines = g.lines "
                    "FROM growth_balance g WHERE a.id = g.id"
                )
            conn.commit()
        with psycopg.connect(database_url(), autocommit=True) as conn:
            for table in ("wallets_entry", "wallets_journaltransaction", "wallets_account"):
                conn.execute(f"VACUUM ANALYZE {table}")
            # Write the load's dirty pages now, so the measurements that follow do not share the
            # disk with a background checkpoint of gigabytes (seen: one balance_at p99 of 59 ms at
            # 10^7 entries with a p50 of 1.1 ms).
            conn.execute("CHECKPOINT")
        return time.perf_counter() - began


def create_wallets(count: int) -> list:
    from wallets.models import Account, User

    users = User.objects.bulk_create(
        [User(name=f"growth {i}", password="!", tenant_id="webuddy") for i in range(count)], batch_size=2000
    )
    accounts = Account.objects.bulk_create(
        [Account(tenant_id="webuddy", kind="wallet", user=u, currency="INR") for u in users], batch_size=2000
    )
    return [(str(a.id), str(a.user_id)) for a in accounts]


def _timed(fn, samples: int) -> dict:
    durations = []
    for _ in range(samples):
        began = time.perf_counter()
        fn()
        durations.append(time.perf_counter() - began)
    return {"p50_ms": round(percentile(durations, 50) * 1000, 2), "p99_ms": round(percentile(durations, 99) * 1000, 2)}


def measure_level(loader: Loader, start: datetime, end: datetime, samples: int) -> dict:
    from django.db import connection

    from wallets.models import Account
    from wallets.selectors import (
        ledger_reconcile,
        statement_line,
        wallet_balance_at,
        wallet_history,
        wallet_statement,
    )

    connection.close()  # fresh plans after the load
    rng = random.Random(11)
    accounts = [Account(id=a, tenant_id="webuddy", currency="INR", kind="wallet") for a, _ in loader.wallets]

    def history_page():  # the wallet row, then the page through the ORM's statement query (filtered pages)
        wallet = Account.objects.get(pk=rng.choice(accounts).pk)
        [statement_line(row) for row in wallet_statement(wallet=wallet)[:20]]
        return wallet.statement_lines

    def history_page_endpoint():  # as the unfiltered history endpoint reads it (wallet_history)
        wallet = Account.objects.get(pk=rng.choice(accounts).pk)
        return wallet_history(wallets=[wallet], offset=0, limit=20)

    def balance_at():
        moment = start + (end - start) * rng.random()
        wallet_balance_at(wallet=rng.choice(accounts), at=moment)

    history_page(), history_page_endpoint(), balance_at()  # warm
    result = {
        "entries": loader.entries,
        "history_page": _timed(history_page, samples),
        "history_page_endpoint": _timed(history_page_endpoint, samples),
        "balance_at": _timed(balance_at, samples),
    }
    began = time.perf_counter()
    report = ledger_reconcile(record=False)
    result["reconcile_s"] = round(time.perf_counter() - began, 2)
    result["reconcile_ok"] = report.ok
    result["reconcile_problems"] = report.problems[:5]
    return result


PERIODS = [
    (datetime(2026, 1, 1, tzinfo=timezone.utc), datetime(2026, 1, 31, tzinfo=timezone.utc)),
    (datetime(2026, 2, 1, tzinfo=timezone.utc), datetime(2026, 5, 31, tzinfo=timezone.utc)),
    (datetime(2026, 6, 1, tzinfo=timezone.utc), datetime(2026, 10, 31, tzinfo=timezone.utc)),
]


def measure(levels: list[int], wallets: int, samples: int) -> dict:
    loader = Loader(create_wallets(wallets))
    results = {}
    for level, (start, end) in zip(levels, PERIODS):
        load_s = loader.load(level, start, end)
        results[level] = {"load_s": round(load_s, 1), **measure_level(loader, PERIODS[0][0], end, samples)}
    return {"levels": results, "wallets": loader.wallets}


def monthly_payouts(wallets: list, month: str = "2026-10") -> dict:
    """Every growth wallet's owner becomes an expert with a bank account; pay the month."""
    from experts.models import BankDetail
    from payouts.runs import monthly_run
    from wallets.crypto import encrypt, keyed_hash

    BankDetail.objects.bulk_create(
        [
            BankDetail(
                expert_id=user_id, bank_name="Bench Bank", account_number_encrypted=encrypt(f"{100000000 + i}"),
                account_number_hash=keyed_hash(f"{100000000 + i}", purpose="bank-account"),
                account_last4=f"{i % 10000:04d}", ifsc_code="BENC0000001", account_holder_name="Bench", is_primary=True,
            )
            for i, (_, user_id) in enumerate(wallets)
        ],
        batch_size=2000,
    )
    began = time.perf_counter()
    rows = monthly_run(month=month, threshold=Decimal(1))
    elapsed = time.perf_counter() - began
    # The HTTP scenarios' experts have bank accounts too (the payout scenario); they earned nothing
    # in this month and are counted apart.
    ours = {str(user_id) for _, user_id in wallets}
    paid = sum(1 for r in rows if r["expert"] in ours and r["result"] == "paid")
    others = Counter(r["result"] for r in rows if r["expert"] not in ours)
    return {"experts": len(ours), "paid": paid, "others": dict(others), "seconds": round(elapsed, 1),
            "per_second": round(len(rows) / elapsed, 1)}
