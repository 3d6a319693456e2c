"""Months and days for tests, computed from the clock the code reads (`django.utils.timezone.now`),
never written as dates: a test that names "2026-11" as a month still to come fails once it is over.

`make test` runs the tests marked `clock` a second time with the clock moved ahead
(`TEST_CLOCK_DAYS_AHEAD`, tests/conftest.py), so a date that only works today shows at once."""
from datetime import datetime, timedelta
from datetime import timezone as dt_timezone

from django.utils import timezone


def month_of(moment: datetime) -> str:
    """`YYYY-MM` of a moment, in UTC (the months of payouts and partitions are UTC months)."""
    moment = moment.astimezone(dt_timezone.utc)
    return f"{moment.year:04d}-{moment.month:02d}"


def month_start(months_from_now: int = 0) -> datetime:
    """The first instant (UTC) of the month `months_from_now` months after the current one (negative:
    before it)."""
    now = timezone.now().astimezone(dt_timezone.utc)
    index = now.year * 12 + now.month - 1 + months_from_now
    return datetime(index // 12, index % 12 + 1, 1, tzinfo=dt_timezone.utc)


def month(months_from_now: int = 0) -> str:
    """`YYYY-MM` of the month `months_from_now` months after the current one: 0 is this month (not
    over yet), -1 the month before (over), 1 the next one."""
    return month_of(month_start(months_from_now))


def mid_month(months_from_now: int) -> datetime:
    """Noon of the 15th of that month: a moment well inside it, whatever the time zone."""
    return month_start(months_from_now) + timedelta(days=14, hours=12)
