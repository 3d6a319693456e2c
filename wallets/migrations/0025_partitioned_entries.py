"""Entries partitioned by month (PostgreSQL), and archived months.

`wallets_entry` becomes a table partitioned by range of `created_at`: one partition per UTC month
(`wallets_entry_YYYY_MM`, made by `ledger_entry_partition(month)` from wallets/sql/
ledger_entry_partition.sql, ahead of time by the periodic job `wallets.entry_partitions_ahead`)
and a default partition `wallets_entry_default` for anything outside them.

The design, and why:
- Primary key `(id, created_at)`: a partitioned table's keys must include the partition key. `id`
  stays unique by construction (it comes from the table's identity sequence, carried over), and
  Django still sees `id` alone as the primary key (the model's state does not change): nothing
  references entries, so no foreign key needs a key of entries, and lookups by `id` use the
  partitions' primary-key indexes.
- Journal transactions are not partitioned: recharges, sessions, payouts, escrows and reversals
  point at them; partitioning them would put `created_at` into every one of those foreign keys.
  An entry has its transaction's `created_at` (both written in one posting), so a month's entries
  hold whole transactions.
- Every index, CHECK and foreign key of the old table is recreated as it was (read from the
  catalog, so none is forgotten), now on the partitioned table: PostgreSQL creates each index on
  every partition, present and future. The triggers too: the append-only trigger (BEFORE UPDATE OR
  DELETE) and the deferred balance trigger (AFTER INSERT) are cloned onto every partition.
- The existing rows are copied into the partitions (one per month from the oldest entry to three
  months from now); the old table is then dropped. The copy and the index builds hold the table
  for their duration (postings wait): on a large ledger, run this migration in a quiet hour.

`LedgerArchive` and `ArchivedBalance` keep what an archived month (a partition detached by
`manage.py ledger_archive`) added up to, so `reconcile` and point-in-time balances still answer.

On SQLite (the quick start) only the two new tables are created. Going back refuses while any
month is archived (its entries are no longer in the table).
"""
from pathlib import Path

import django.db.models.deletion
from django.db import migrations, models

SQL = Path(__file__).resolve().parent.parent / "sql"
MONTHS_AHEAD = 3


def _recreate_statements(cursor, table: str) -> list[str]:
    """The old table's indexes (but its primary key), CHECKs, foreign keys and triggers, as SQL that
    makes them again on a new table of the same name."""
    cursor.execute(
        "SELECT indexdef FROM pg_indexes WHERE schemaname = current_schema() AND tablename = %s "
        "AND indexname NOT IN (SELECT conname FROM pg_constraint WHERE conrelid = %s::regclass AND contype = 'p') "
        "ORDER BY indexname",
        [table, table],
    )
    # A partitioned table's index is defined ON ONLY the parent; made again, it is made on every partition.
    statements = [row[0].replace(" ON ONLY ", " ON ", 1) for row in cursor.fetchall()]
    cursor.execute(
        "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = %s::regclass "
        "AND contype = 'f' ORDER BY conname",
        [table],
    )
    statements += [f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}' for name, definition in cursor.fetchall()]
    cursor.execute(
        "SELECT pg_get_triggerdef(oid) FROM pg_trigger WHERE tgrelid = %s::regclass AND NOT tgisinternal "
        "AND tgparentid = 0 ORDER BY tgname",
        [table],
    )
    statements += [row[0] for row in cursor.fetchall()]
    return statements


def _set_aside(cursor, table: str, aside: str) -> None:
    """Rename the table, its identity sequence and its primary key out of the way of the new one."""
    cursor.execute("SELECT pg_get_serial_sequence(%s, 'id')", [table])
    sequence = cursor.fetchone()[0]
    cursor.execute(f"ALTER TABLE {table} RENAME TO {aside}")
    cursor.execute(f"ALTER SEQUENCE {sequence} RENAME TO {aside}_id_seq")
    cursor.execute(f"ALTER TABLE {aside} RENAME CONSTRAINT {table}_pkey TO {aside}_pkey")


def _move_rows_and_keys(cursor, table: str, aside: str) -> None:
    cursor.execute(f"INSERT INTO {table} SELECT * FROM {aside}")
    cursor.execute(
        f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), last_value, is_called) FROM {aside}_id_seq"
    )


def partition(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cursor:
        recreate = _recreate_statements(cursor, "wallets_entry")
        _set_aside(cursor, "wallets_entry", "wallets_entry_unpartitioned")
        cursor.execute(
            "CREATE TABLE wallets_entry (LIKE wallets_entry_unpartitioned INCLUDING DEFAULTS INCLUDING IDENTITY "
            "INCLUDING CONSTRAINTS) PARTITION BY RANGE (created_at)"
        )
        cursor.execute("ALTER TABLE wallets_entry ADD CONSTRAINT wallets_entry_pkey PRIMARY KEY (id, created_at)")
        cursor.execute("CREATE TABLE wallets_entry_default PARTITION OF wallets_entry DEFAULT")
        cursor.execute((SQL / "ledger_entry_partition.sql").read_text())
        cursor.execute(
            "SELECT ledger_entry_partition(month::date) FROM generate_series("
            " date_trunc('month', least((SELECT min(created_at) FROM wallets_entry_unpartitioned), now()) AT TIME ZONE 'UTC'),"
            " date_trunc('month', greatest((SELECT max(created_at) FROM wallets_entry_unpartitioned),"
            "                              now() + make_interval(months => %s)) AT TIME ZONE 'UTC'),"
            " interval '1 month') AS month",
            [MONTHS_AHEAD],
        )
        _move_rows_and_keys(cursor, "wallets_entry", "wallets_entry_unpartitioned")
        cursor.execute("DROP TABLE wallets_entry_unpartitioned")
        for statement in recreate:
            cursor.execute(statement)


def unpartition(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM wallets_ledgerarchive")
        if cursor.fetchone()[0]:
            raise RuntimeError("archived months exist: their entries are not in wallets_entry, so it is not made whole again")
        recreate = _recreate_statements(cursor, "wallets_entry")
        cursor.execute("DROP FUNCTION ledger_entry_partition(date)")
        _set_aside(cursor, "wallets_entry", "wallets_entry_partitioned")
        cursor.execute(
            "CREATE TABLE wallets_entry (LIKE wallets_entry_partitioned INCLUDING DEFAULTS INCLUDING IDENTITY "
            "INCLUDING CONSTRAINTS)"
        )
        cursor.execute("ALTER TABLE wallets_entry ADD CONSTRAINT wallets_entry_pkey PRIMARY KEY (id)")
        _move_rows_and_keys(cursor, "wallets_entry", "wallets_entry_partitioned")
        cursor.execute("DROP TABLE wallets_entry_partitioned")
        for statement in recreate:
            cursor.execute(statement)


class Migration(migrations.Migration):

    dependencies = [
        ('wallets', '0024_finance_sees_deliveries'),
    ]

    operations = [
        migrations.CreateModel(
            name='LedgerArchive',
            fields=[
                ('month', models.DateField(primary_key=True, serialize=False)),
                ('table_name', models.CharField(max_length=63)),
                ('entries', models.PositiveBigIntegerField()),
                ('transactions', models.PositiveBigIntegerField()),
                ('archived_at', models.DateTimeField(auto_now_add=True)),
            ],
            options={
                'ordering': ['month'],
            },
        ),
        migrations.CreateModel(
            name='ArchivedBalance',
            fields=[
                ('id', models.BigAutoField(primary_key=True, serialize=False)),
                ('currency', models.CharField(choices=[('INR', 'INR'), ('USD', 'USD'), ('USDC', 'USDC')], max_length=4)),
                ('balance', models.DecimalField(decimal_places=6, max_digits=24)),
                ('held', models.DecimalField(decimal_places=6, max_digits=24)),
                ('lines', models.PositiveBigIntegerField()),
                ('entries', models.PositiveBigIntegerField()),
                ('account', models.ForeignKey(db_constraint=False, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='wallets.account')),
                ('archive', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='balances', to='wallets.ledgerarchive')),
            ],
            options={
                'constraints': [models.UniqueConstraint(fields=('archive', 'account', 'currency'), name='archived_balance_once')],
            },
        ),
        migrations.RunPython(partition, unpartition),
    ]
