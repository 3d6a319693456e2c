"""Concurrent session starts through the HTTP API on one wallet."""
from decimal import Decimal

import pytest
from rest_framework.test import APIClient

from tests.factories import make_api_key
from tests.invariants import assert_ledger_invariants
from tests.ledger.test_races import run_concurrently
from tests.webuddy.helpers import create_user, funded_user, num, wallet_of

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.races]


def test_thirty_concurrent_session_starts_on_a_balance_that_covers_ten():
    _, raw_key = make_api_key("webuddy")

    def client():  # one per thread: the test client is not shared across threads
        c = APIClient()
        c.credentials(HTTP_AUTHORIZATION=f"Api-Key {raw_key}")
        return c

    user, expert = funded_user(client(), 1000), create_user(client())

    statuses = run_concurrently(
        30,
        lambda i: client()
        .post("/v1/sessions/start", {"userId": user["id"], "expertId": expert["id"], "sessionFee": 100}, format="json")
        .status_code,
    )

    assert sorted(statuses) == [201] * 10 + [400] * 20
    wallet = wallet_of(client(), user["id"])
    assert (num(wallet["balance"]), num(wallet["heldBalance"]), num(wallet["availableBalance"])) == (
        Decimal(1000), Decimal(1000), Decimal(0),
    )
    assert_ledger_invariants()
