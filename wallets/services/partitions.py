"""Months of the ledger: entries are partitioned by UTC month (migration 0025).

Partitions are made ahead of time (`entry_partitions_ensure`, daily by a periodic job); a month that
is over may be archived (`ledger_month_archive`): its partition is detached from `wallets_entry` and
kept, append-only, as a table of its own for export, and what its entries added up to per account
is kept in `ArchivedBalance` as opening balances, which `reconcile` and point-in-time balances add.
"""
from datetime import date, timedelta

from django.db import connection, transaction
from django.utils import timezone

from wallets.errors import DomainError, ErrorCode
from wallets.models import Entry, LedgerArchive
from wallets.validation import parse_month

MONTHS_AHEAD = 3
# Making a partition briefly locks the whole table against postings: rather than queue every
# posting behind a long reader (a reconcile), give up and try again at the next run.
LOCK_TIMEOUT = "5s"
# A month is archived only this long after it ended: a posting timed just before midnight may still
# be on its way (its partition must be there when it arrives).
ARCHIVE_GRACE = timedelta(hours=1)


def _add_months(month: date, n: int) -> date:
    index = month.year * 12 + month.month - 1 + n
    return date(index // 12, index % 12 + 1, 1)


def entry_partitions_ensure(*, since: date | None = None, months_ahead: int = MONTHS_AHEAD,
                            until: date | None = None) -> list[str]:
    """Make the monthly partitions of entries from `since` (default: this month) up to `months_ahead`
    months from now (or up to the month of `until`), each in a transaction of its own; those that
    exist are left as they are. Returns the names of the partitions made."""
    this_month = timezone.now().date().replace(day=1)
    month = (since or this_month).replace(day=1)
    last = until.replace(day=1) if until is not None else _add_months(this_month, months_ahead)
    made = []
    while month <= last:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'")
            cursor.execute("SELECT ledger_entry_partition(%s)", [month])
            name = cursor.fetchone()[0]
        if name:
            made.append(name)
        month = _add_months(month, 1)
    return made


def ledger_month_archive(*, month: str) -> LedgerArchive:
    """Archive the entries of `month` (YYYY-MM): in one transaction, record every account's totals
    up to the month's end (the previous archive's plus this month's entries), then detach the
    month's partition and keep it as `wallets_entry_archive_YYYY_MM`.

    Refused unless the month is entirely before the current one, not archived yet, and no live
    entry is older than it (months are archived oldest first, so every archived entry is older
    than every live one)."""
    start, end = parse_month(month)
    this_month = timezone.now().replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    if end > this_month:
        raise DomainError(ErrorCode.MONTH_NOT_ENDED, f"Only months before the current one may be archived, not {month}.")
    if end > timezone.now() - ARCHIVE_GRACE:
        raise DomainError(ErrorCode.MONTH_NOT_ENDED,
                          f"{month} ended less than {ARCHIVE_GRACE} ago: postings dated in it may still be arriving.")
    partition, archive_table = f"wallets_entry_{start:%Y_%m}", f"wallets_entry_archive_{start:%Y_%m}"
    if LedgerArchive.objects.filter(month=start.date()).exists():  # asked again under the lock below
        raise DomainError(ErrorCode.VALIDATION_ERROR, f"{month} is archived already.")
    # Its partition first, in a transaction of its own (rows the default partition caught move into
    # it and are checked there); then the archive.
    entry_partitions_ensure(since=start.date(), until=start.date())
    with transaction.atomic(), connection.cursor() as cursor:
        # Detaching needs the whole table for a moment: behind a long reader, give up rather than
        # queue every posting behind it (try again later).
        cursor.execute(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'")
        cursor.execute("LOCK TABLE wallets_ledgerarchive IN EXCLUSIVE MODE")  # one archiver at a time
        if LedgerArchive.objects.filter(month=start.date()).exists():
            raise DomainError(ErrorCode.VALIDATION_ERROR, f"{month} is archived already.")
        later = LedgerArchive.objects.filter(month__gt=start.date()).first()
        if later is not None:
            raise DomainError(ErrorCode.VALIDATION_ERROR, f"Months are archived oldest first: {later} is archived already.")
        if Entry.objects.filter(created_at__lt=start).exists():
            raise DomainError(
                ErrorCode.VALIDATION_ERROR, f"Live entries older than {month} remain: archive their months first."
            )
        # The month's rows may still be in the default partition: this gives them their own.
        cursor.execute("SELECT ledger_entry_partition(%s)", [start.date()])
        cursor.execute(f"LOCK TABLE {partition} IN SHARE MODE")  # nothing is added to it while it is summed
        cursor.execute(f"SELECT count(*), count(DISTINCT transaction_id) FROM {partition}")
        entries, transactions = cursor.fetchone()
        previous = LedgerArchive.objects.filter(month__lt=start.date()).order_by("-month").first()
        archive = LedgerArchive.objects.create(
            month=start.date(), table_name=archive_table, entries=entries, transactions=transactions
        )
        cursor.execute(
            f"""
            INSERT INTO wallets_archivedbalance (archive_id, account_id, currency, balance, held, lines, entries)
            SELECT %s, account_id, currency, sum(balance), sum(held), sum(lines), sum(entries) FROM (
                SELECT account_id, currency, balance, held, lines, 0 AS entries
                  FROM wallets_archivedbalance WHERE archive_id = %s
                UNION ALL
                SELECT account_id, currency, sum(amount), coalesce(sum(amount) FILTER (WHERE bucket = %s), 0),
                       count(DISTINCT transaction_id), count(*)
                  FROM {partition} GROUP BY account_id, currency
            ) carried GROUP BY account_id, currency
            """,
            [start.date(), previous and previous.month, int(Entry.Bucket.HELD)],
        )
        cursor.execute(f"ALTER TABLE wallets_entry DETACH PARTITION {partition}")
        cursor.execute(f"ALTER TABLE {partition} RENAME TO {archive_table}")
        # Detaching took the partition's triggers away; the archive is frozen: nothing added to it,
        # changed, deleted or truncated (its sums are the opening balances).
        cursor.execute(
            f"CREATE TRIGGER entry_append_only BEFORE INSERT OR UPDATE OR DELETE ON {archive_table} "
            "FOR EACH ROW EXECUTE FUNCTION ledger_refuse_change()"
        )
        cursor.execute(
            f"CREATE TRIGGER entry_archive_no_truncate BEFORE TRUNCATE ON {archive_table} "
            "FOR EACH STATEMENT EXECUTE FUNCTION ledger_refuse_change()"
        )
    return archive

