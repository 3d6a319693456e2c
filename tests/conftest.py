import os
from datetime import datetime, timedelta
from datetime import timezone as dt_timezone

import pytest
import time_machine
from django.conf import settings
from rest_framework.test import APIClient

from tests.factories import make_api_key


def pytest_collection_modifyitems(config, items):
    """The stack's tests need the test command's replica and PgBouncer (python -m bench.stack)."""
    if "replica" not in settings.DATABASES:
        skip_stack = pytest.mark.skip(reason="needs the test command's replica and PgBouncer (python -m bench.stack)")
        for item in items:
            if item.get_closest_marker("stack"):
                item.add_marker(skip_stack)


# Tests marked `clock` read the calendar (a month over or not, the month before, partitions ahead).
# With TEST_CLOCK_DAYS_AHEAD set, each runs with Python's clock moved that many days ahead (still
# ticking), so a date that only works today fails now rather than next month. PostgreSQL's own
# clock is not moved: a `clock` test must not compare times the database wrote with Python's.
# TEST_CLOCK_EVERY_TEST=1 moves it for every test (an audit for dates written into tests; a test
# that compares the database's times with Python's then fails for that reason alone).
CLOCK_DAYS_AHEAD = int(os.environ.get("TEST_CLOCK_DAYS_AHEAD") or 0)
CLOCK_EVERY_TEST = os.environ.get("TEST_CLOCK_EVERY_TEST") == "1"


@pytest.fixture(autouse=True)
def _clock_ahead(request):
    if not CLOCK_DAYS_AHEAD or not (CLOCK_EVERY_TEST or request.node.get_closest_marker("clock")):
        yield None
        return
    moved = datetime.now(dt_timezone.utc) + timedelta(days=CLOCK_DAYS_AHEAD)
    with time_machine.travel(moved, tick=True) as traveller:
        yield traveller


@pytest.fixture
def api_client():
    return APIClient()


def api_key_client(scope: str) -> APIClient:
    _, raw = make_api_key(scope)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {raw}")
    return client


@pytest.fixture
def webuddy_client(db):
    return api_key_client("webuddy")


@pytest.fixture
def tmr_key_client(db):
    return api_key_client("tmr")
