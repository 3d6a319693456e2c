"""Entries partitioned by month (PostgreSQL): postings land in their month's partition, every
partition refuses edits and unbalanced transactions, partitions are made ahead idempotently, and
an archived month leaves `reconcile` and point-in-time balances answering as before."""
import dataclasses
import uuid
from datetime import datetime, timedelta
from datetime import timezone as dt_timezone
from decimal import Decimal
from types import SimpleNamespace

import pytest
from django.core.management import CommandError, call_command
from django.db import DatabaseError, IntegrityError, connection, transaction
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from tests import holds as in_txn
from tests.factories import make_wallet
from wallets import ledger
from wallets.errors import DomainError
from wallets.models import Account, Entry, LedgerArchive
from wallets.selectors import (
    ledger_reconcile,
    system_account_balance,
    wallet_balance_at,
    wallet_balance_at_from_sums,
)
from wallets.services import postings
from wallets.services.partitions import entry_partitions_ensure

D = Decimal


def month_start(months_from_now: int) -> datetime:
    now = timezone.now()
    index = now.year * 12 + now.month - 1 + months_from_now
    return datetime(index // 12, index % 12 + 1, 1, tzinfo=dt_timezone.utc)


def partitions() -> dict[str, str]:
    """{partition: its bounds} of wallets_entry."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname, pg_get_expr(c.relpartbound, c.oid) FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "WHERE i.inhparent = 'wallets_entry'::regclass ORDER BY 1"
        )
        return dict(cursor.fetchall())


def partition_of(entry_ids) -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT DISTINCT tableoid::regclass::text FROM wallets_entry WHERE id = ANY(%s)", [list(entry_ids)])
        return {row[0] for row in cursor.fetchall()}


def system(code: str) -> uuid.UUID:
    return ledger.system_account_id("webuddy", code, "INR", 0)


def insert_transaction(cursor, at: datetime, amounts, table: str = "wallets_entry") -> uuid.UUID:
    """A raw journal transaction between two system accounts, dated `at`, its entries written to `table`."""
    txn_id = uuid.uuid4()
    cursor.execute(
        "INSERT INTO wallets_journaltransaction (id, kind, description, metadata, created_at) VALUES (%s, 'raw', '', '{}', %s)",
        [txn_id, at],
    )
    for account, amount in zip((system("platform_revenue"), system("gateway_clearing")), amounts):
        # The id from the table's own sequence: a partition written to directly has no default for it.
        cursor.execute(
            f"INSERT INTO {table} (id, transaction_id, account_id, currency, bucket, amount, type, created_at) "
            "VALUES (nextval(pg_get_serial_sequence('wallets_entry', 'id')), %s, %s, 'INR', 0, %s, 'raw', %s)",
            [txn_id, account, amount, at],
        )
    return txn_id


def moment_in(partition: str) -> datetime:
    """A moment inside a partition's range (the default partition: far beyond the months made)."""
    if partition == "wallets_entry_default":
        return datetime(2199, 6, 15, tzinfo=dt_timezone.utc)
    year, month = partition.removeprefix("wallets_entry_").split("_")
    return datetime(int(year), int(month), 15, 12, tzinfo=dt_timezone.utc)


def commit_checks() -> None:
    """Run the checks a commit runs (the balance triggers) now: this test's postings are months old
    by the time their month is archived."""
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute("SET CONSTRAINTS ALL DEFERRED")


@pytest.fixture
def clock(monkeypatch):
    """Postings at a chosen moment (`clock.at = ...`; None: now): made by the one engine at the
    database's time, then moved to that moment, with the ledger's triggers off for the move only
    (tests alone date postings; history in a month that is over comes that way)."""
    state = SimpleNamespace(at=None)
    post = ledger.post

    def dated(**kwargs):
        posted = post(**kwargs)
        if state.at is None:
            return posted
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SET LOCAL session_replication_role = replica")
            cursor.execute("UPDATE wallets_journaltransaction SET created_at = %s WHERE id = %s",
                           [state.at, posted.transaction_id])
            cursor.execute("UPDATE wallets_entry SET created_at = %s WHERE transaction_id = %s",
                           [state.at, posted.transaction_id])
            cursor.execute("SET LOCAL session_replication_role = origin")
        return dataclasses.replace(posted, created_at=state.at)

    monkeypatch.setattr(ledger, "post", dated)
    return state


@pytest.mark.django_db
def test_the_migration_made_this_month_and_three_ahead_and_a_default():
    made = partitions()

    for ahead in range(4):
        start, end = month_start(ahead), month_start(ahead + 1)
        assert made[f"wallets_entry_{start:%Y_%m}"] == (
            f"FOR VALUES FROM ('{start:%Y-%m-%d} 00:00:00+00') TO ('{end:%Y-%m-%d} 00:00:00+00')"
        )
    assert made["wallets_entry_default"] == "DEFAULT"


@pytest.mark.django_db
def test_a_posting_lands_in_its_months_partition():
    wallet = make_wallet(balance=100)

    postings.wallet_withdraw(wallet=wallet, amount=D("40"))

    entries = Entry.objects.filter(account=wallet).values_list("id", flat=True)
    assert partition_of(entries) == {f"wallets_entry_{timezone.now():%Y_%m}"}


@pytest.mark.django_db
def test_a_posting_in_a_month_made_ahead_lands_in_that_partition(clock):
    wallet = make_wallet(balance=100)
    entry_partitions_ensure(months_ahead=5)
    clock.at = month_start(5) + timedelta(days=3)

    postings.wallet_withdraw(wallet=wallet, amount=D("40"))

    entries = Entry.objects.filter(account=wallet, created_at=clock.at).values_list("id", flat=True)
    assert partition_of(entries) == {f"wallets_entry_{clock.at:%Y_%m}"}


@pytest.mark.django_db
def test_making_partitions_ahead_is_idempotent():
    fifth = f"wallets_entry_{month_start(5):%Y_%m}"

    assert entry_partitions_ensure() == []  # the migration made them
    assert entry_partitions_ensure(months_ahead=5) == [f"wallets_entry_{month_start(4):%Y_%m}", fifth]
    assert entry_partitions_ensure(months_ahead=5) == []
    assert fifth in partitions()


@pytest.mark.django_db
def test_a_new_months_partition_takes_its_rows_from_the_default_partition():
    with connection.cursor() as cursor:
        txn = insert_transaction(cursor, datetime(2020, 3, 9, tzinfo=dt_timezone.utc), [D("5"), D("-5")])
        entries = Entry.objects.filter(transaction_id=txn).values_list("id", flat=True)
        assert partition_of(entries) == {"wallets_entry_default"}

        cursor.execute("SELECT ledger_entry_partition('2020-03-01')")
    commit_checks()  # the moved rows are checked again: still balanced

    assert partition_of(entries) == {"wallets_entry_2020_03"}
    assert partitions()["wallets_entry_default"] == "DEFAULT"
    with pytest.raises(DatabaseError, match="append-only"):  # the default partition has its triggers again
        with transaction.atomic(), connection.cursor() as cursor:
            insert_transaction(cursor, moment_in("wallets_entry_default"), [D("1"), D("-1")])
            cursor.execute("DELETE FROM wallets_entry_default")


@pytest.mark.django_db
@pytest.mark.parametrize("statement", ["UPDATE {table} SET amount = amount * 2", "DELETE FROM {table}"])
def test_entries_cannot_be_updated_or_deleted_in_any_partition(statement):
    every = sorted(partitions())
    assert len(every) >= 5

    for partition in every:
        with connection.cursor() as cursor:
            txn = insert_transaction(cursor, moment_in(partition), [D("5"), D("-5")])
        assert partition_of(Entry.objects.filter(transaction_id=txn).values_list("id", flat=True)) == {partition}
        for table in (partition, "wallets_entry"):
            with pytest.raises(DatabaseError, match="append-only"):
                with transaction.atomic(), connection.cursor() as cursor:
                    cursor.execute(statement.format(table=table) + " WHERE transaction_id = %s", [txn])
        assert sorted(Entry.objects.filter(transaction_id=txn).values_list("amount", flat=True)) == [D("-5"), D("5")]


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("table", ["wallets_entry", "the partition itself"])
def test_an_unbalanced_transaction_is_refused_in_every_partition(table):
    every = sorted(partitions())

    for partition in every:
        with pytest.raises(IntegrityError, match="unbalanced"):
            with transaction.atomic(), connection.cursor() as cursor:
                insert_transaction(cursor, moment_in(partition), [D("10"), D("-9")],
                                   table="wallets_entry" if table == "wallets_entry" else partition)

    assert Entry.objects.count() == 0


@pytest.mark.django_db
def test_an_archived_month_still_reconciles_and_answers_balances_at_any_moment(clock, capsys, settings):
    settings.LEDGER_SYSTEM_STRIPES = 1  # one clearing stripe: a known number of opening balances
    archived, later = month_start(-3), month_start(-2)
    payer, payee, quiet = make_wallet(), make_wallet(), make_wallet()
    clock.at = archived + timedelta(days=2)
    postings.wallet_deposit(wallet=payer, amount=D("100"))
    postings.wallet_deposit(wallet=quiet, amount=D("7.5"))
    clock.at = archived + timedelta(days=10)
    postings.wallet_transfer(source=payer, destination=payee, amount=D("30"))
    clock.at = archived + timedelta(days=20)
    in_txn.place(wallet=payer, amount=D("10"))
    clock.at = None  # now, this month
    postings.wallet_transfer(source=payer, destination=payee, amount=D("5"))
    now = timezone.now()
    moments = [archived + timedelta(days=d) for d in (1, 5, 15, 25)] + [later, month_start(0), now]
    before = {(w.id, at): wallet_balance_at(wallet=w, at=at) for w in (payer, payee, quiet) for at in moments}
    revenue_before = system_account_balance(tenant=payer.tenant, code=Account.System.GATEWAY_CLEARING, currency="INR")
    assert ledger_reconcile(record=False).ok
    commit_checks()

    with pytest.raises(CommandError, match="archive their months first"):
        call_command("ledger_archive", month=f"{later:%Y-%m}")
    call_command("ledger_archive", month=f"{archived:%Y-%m}")

    assert f"Archived {archived:%Y-%m}: 8 entries of 4 transactions, 4 opening balances" in capsys.readouterr().out
    archive = LedgerArchive.objects.get()
    assert archive.table_name not in partitions() and f"wallets_entry_{archived:%Y_%m}" not in partitions()
    assert not Entry.objects.filter(created_at__lt=later).exists()
    report = ledger_reconcile(record=False)
    assert report.ok, report.problems
    assert report.tenants["webuddy"].sums == {"INR": D(0)}
    for wallet in (payer, payee, quiet):
        for at in moments:
            assert wallet_balance_at(wallet=wallet, at=at) == before[(wallet.id, at)], (wallet, at)
            assert wallet_balance_at_from_sums(wallet=wallet, at=at) == before[(wallet.id, at)], (wallet, at)
    assert before[(quiet.id, now)] == (D("7.5"), D("0"))  # all its entries are archived
    assert before[(payer.id, now)] == (D("65"), D("10"))
    assert system_account_balance(tenant=payer.tenant, code=Account.System.GATEWAY_CLEARING, currency="INR") == revenue_before
    with pytest.raises(DatabaseError, match="append-only"):
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(f"DELETE FROM {archive.table_name}")


@pytest.mark.django_db
@pytest.mark.parametrize(("months_ago", "refusal"), [
    (0, "Only months before the current one"),
    (-2, "archived already"),
    (-3, "oldest first"),
])
def test_archiving_is_refused_for_the_current_month_a_month_archived_and_an_older_month(months_ago, refusal):
    call_command("ledger_archive", month=f"{month_start(-2):%Y-%m}")

    with pytest.raises(CommandError, match=refusal):
        call_command("ledger_archive", month=f"{month_start(months_ago):%Y-%m}")

    assert LedgerArchive.objects.count() == 1


@pytest.mark.django_db
def test_an_archived_months_partition_is_not_made_again():
    call_command("ledger_archive", month=f"{month_start(-1):%Y-%m}")

    with pytest.raises(DatabaseError, match="archived"):
        with transaction.atomic():
            entry_partitions_ensure(since=month_start(-1).date())


def migrate(targets) -> None:
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)


@pytest.fixture
def unpartitioned():
    """The schema before entries were partitioned; back to the latest afterwards, whatever happens."""
    latest = MigrationExecutor(connection).loader.graph.leaf_nodes()
    migrate([("wallets", "0024_finance_sees_deliveries")])
    try:
        yield latest
    finally:
        migrate(latest)


@pytest.mark.django_db(transaction=True)
def test_the_migration_moves_a_populated_ledger_into_partitions(unpartitioned, clock):
    payer, payee = make_wallet(), make_wallet()
    clock.at = month_start(-14) + timedelta(days=9)  # a month with no partition made for it yet
    postings.wallet_deposit(wallet=payer, amount=D("80"))
    clock.at = None
    postings.wallet_transfer(source=payer, destination=payee, amount=D("30"))
    entries = dict(Entry.objects.values_list("id", "amount"))
    with connection.cursor() as cursor:
        cursor.execute("SELECT relkind FROM pg_class WHERE relname = 'wallets_entry'")
        assert cursor.fetchone() == ("r",)

    migrate(unpartitioned)

    assert dict(Entry.objects.values_list("id", "amount")) == entries
    assert partition_of(Entry.objects.filter(created_at__lt=month_start(0)).values_list("id", flat=True)) == {
        f"wallets_entry_{month_start(-14):%Y_%m}"
    }
    assert f"wallets_entry_{month_start(3):%Y_%m}" in partitions()
    posted = postings.wallet_withdraw(wallet=payee, amount=D("10"))  # new ids follow the old ones
    assert min(Entry.objects.filter(transaction_id=posted.transaction_id).values_list("id", flat=True)) > max(entries)
    assert wallet_balance_at(wallet=payer, at=month_start(-13)) == (D("80"), D("0"))
    report = ledger_reconcile(record=False)
    assert report.ok, report.problems


@pytest.mark.django_db(transaction=True)
def test_archiving_a_month_the_default_partition_caught_commits_and_freezes_its_table():
    """For real (committed): the month's rows move out of the default partition and are checked there
    before the partition is detached; the archive table then takes no row, change or TRUNCATE; a
    transaction of that month can no longer be reversed through the live ledger."""
    at = datetime(2019, 7, 9, 12, tzinfo=dt_timezone.utc)
    assert "wallets_entry_2019_07" not in partitions()
    with transaction.atomic(), connection.cursor() as cursor:
        txn = insert_transaction(cursor, at, [D("5"), D("-5")])
    assert partition_of(Entry.objects.filter(transaction_id=txn).values_list("id", flat=True)) == {"wallets_entry_default"}
    try:
        call_command("ledger_archive", month="2019-07")  # commits, or raises

        archive = LedgerArchive.objects.get(month=at.date().replace(day=1))
        assert (archive.entries, archive.transactions) == (2, 1)
        assert not Entry.objects.filter(transaction_id=txn).exists()
        report = ledger_reconcile(record=False)
        assert report.ok, report.problems
        for statement in (
            f"INSERT INTO {archive.table_name} SELECT * FROM {archive.table_name}",
            f"UPDATE {archive.table_name} SET amount = 0",
            f"DELETE FROM {archive.table_name}",
            f"TRUNCATE {archive.table_name}",
        ):
            with pytest.raises(DatabaseError, match="append-only"):
                with transaction.atomic(), connection.cursor() as cursor:
                    cursor.execute(statement)
        with pytest.raises(DomainError, match="archived"):
            postings.transaction_reverse(transaction_id=txn, reason="a refund of an old payment")
    finally:
        with connection.cursor() as cursor:
            cursor.execute("DROP TABLE IF EXISTS wallets_entry_archive_2019_07")


@pytest.mark.django_db
def test_a_month_is_archived_only_an_hour_after_it_ended(monkeypatch):
    from wallets.services import partitions as months

    moment = month_start(0) + timedelta(minutes=30)
    monkeypatch.setattr(months, "timezone", SimpleNamespace(now=lambda: moment))
    with pytest.raises(CommandError, match="ended less than"):
        call_command("ledger_archive", month=f"{month_start(-1):%Y-%m}")
