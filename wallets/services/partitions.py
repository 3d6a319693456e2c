"""Months of the ledger (PostgreSQL): entries are partitioned by UTC month (migration 0025), and
partitions are made ahead of time (`entry_partitions_ensure`, daily by a periodic job).

SQLite (the quick start) has no partitions: nothing is made there.
"""
from datetime import date

from django.db import connection, transaction
from django.utils import timezone

MONTHS_AHEAD = 3
# Making a partition briefly locks the whole table against postings: rather than queue every
# posting behind a long reader (a reconcile), give up and try again at the next run.
LOCK_TIMEOUT = "5s"


def _add_months(month: date, n: int) -> date:
    index = month.year * 12 + month.month - 1 + n
    return date(index // 12, index % 12 + 1, 1)


def entry_partitions_ensure(*, since: date | None = None, months_ahead: int = MONTHS_AHEAD) -> list[str]:
    """Make the monthly partitions of entries from `since` (default: this month) up to `months_ahead`
    months from now, each in a transaction of its own; those that exist are left as they are.
    Returns the names of the partitions made."""
    if connection.vendor != "postgresql":
        return []
    this_month = timezone.now().date().replace(day=1)
    month = (since or this_month).replace(day=1)
    last = _add_months(this_month, months_ahead)
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

