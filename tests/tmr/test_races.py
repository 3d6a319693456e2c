"""Concurrent withdrawals through the TMR API on one wallet."""
from decimal import Decimal

import pytest
from rest_framework.test import APIClient

from tests.invariants import assert_ledger_invariants
from tests.ledger.test_races import run_concurrently
from tests.tmr.helpers import PASSWORD, charge, register
from wallets.models import Account

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.races]


def test_forty_concurrent_withdrawals_of_ten_from_a_hundred():
    user = register()
    access = APIClient().post("/api/v1/auth/token", {"username": user["username"], "password": PASSWORD}, format="json").json()["access"]

    def client():
        c = APIClient()
        c.credentials(HTTP_AUTHORIZATION=f"Bearer {access}")
        return c

    charge(client(), 100)

    statuses = run_concurrently(
        40, lambda i: client().post("/api/v1/wallet/withdraw", {"amount": 10.00, "currency": "USD"}, format="json").status_code
    )

    assert sorted(statuses) == [200] * 10 + [400] * 30
    assert Account.objects.get(user_id=user["id"]).balance == Decimal("0")
    assert_ledger_invariants()
