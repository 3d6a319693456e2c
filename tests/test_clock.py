"""The clock the `clock` tests read: moved ahead when the test command asks (TEST_CLOCK_DAYS_AHEAD),
the real one otherwise; the database's own clock is never moved."""
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from tests.clock import month, month_of, month_start
from tests.conftest import CLOCK_DAYS_AHEAD


@pytest.mark.clock
@pytest.mark.django_db
def test_the_clock_of_clock_tests_is_moved_as_far_as_asked():
    with connection.cursor() as cursor:
        cursor.execute("SELECT now()")
        database_now = cursor.fetchone()[0]

    ahead = timezone.now() - database_now

    assert abs(ahead - timedelta(days=CLOCK_DAYS_AHEAD)) < timedelta(minutes=5)


@pytest.mark.clock
def test_months_are_counted_from_the_clock():
    now = timezone.now()

    assert month(0) == month_of(now)
    assert month_start(0) <= now < month_start(1)
    assert month_start(-1) < month_start(0) and month(-12)[:4] == str(now.year - 1)
