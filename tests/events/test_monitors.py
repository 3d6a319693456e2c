"""Low-balance monitors: `wallet.balance_low` when the available balance crosses below, once; again
only after it has risen back to the amount or above (edge-triggered). With both posting engines."""
from decimal import Decimal

import pytest
from django.db import transaction

from tests.events.helpers import as_json, events_of
from tests.invariants import assert_ledger_invariants
from tests.tmr.helpers import signed_in
from tests.webuddy.helpers import create_user, funded_user, recharge
from wallets.models import Account
from wallets.services import holds as hold_services
from wallets.services import postings

pytestmark = pytest.mark.django_db
D = Decimal


@pytest.fixture(autouse=True)
def _ledger_stays_whole(db):
    yield
    assert_ledger_invariants()


def monitor(client, user_id, below):
    response = client.post("/v1/wallet/monitors", {"userId": user_id, "below": below}, format="json")
    assert response.status_code == 201, response.content
    return response.json()


def spend(user_id, amount):
    postings.wallet_withdraw(wallet=Account.objects.get(user_id=user_id), amount=D(amount), description="spent")


def fired():
    return events_of("wallet.balance_low")


def test_crossing_down_fires_once_staying_below_fires_nothing_and_crossing_again_fires_again(webuddy_client):
    user = funded_user(webuddy_client, 500)
    watched = monitor(webuddy_client, user["id"], 100)
    assert fired() == []

    spend(user["id"], 350)  # 150: still above
    assert fired() == []
    spend(user["id"], 60)  # 90: crossed
    spend(user["id"], 40)  # 50: still below
    assert len(fired()) == 1
    assert as_json(fired()[0].data) == as_json({
        "monitorId": watched["id"], "userId": user["id"], "below": D("100.00"), "availableBalance": D("90.00"),
        "currency": "INR",
    })

    recharge(webuddy_client, user["id"], 50)  # exactly 100: back at the amount re-arms
    assert len(fired()) == 1
    spend(user["id"], D("0.01"))  # 99.99: crossed again
    assert len(fired()) == 2
    assert fired()[1].data["availableBalance"] == D("99.99")


def test_a_hold_counts_against_the_available_balance(webuddy_client):
    user, expert = funded_user(webuddy_client, 300), create_user(webuddy_client)
    monitor(webuddy_client, user["id"], 250)
    webuddy_client.post("/v1/sessions/start", {"userId": user["id"], "expertId": expert["id"], "sessionFee": 100}, format="json")
    assert [e.data["availableBalance"] for e in fired()] == [D("200.00")]


def test_a_monitor_created_below_fires_at_once_and_zero_and_decimals_are_allowed(webuddy_client):
    user = funded_user(webuddy_client, D("10.50"))
    monitor(webuddy_client, user["id"], D("20.25"))
    assert [e.data["below"] for e in fired()] == [D("20.25")]

    zero = monitor(webuddy_client, user["id"], 0)
    assert zero["below"] == 0 and len(fired()) == 1
    spend(user["id"], D("10.50"))  # to 0: not below 0
    assert len(fired()) == 1


def test_the_zero_monitor_fires_when_credit_takes_the_balance_below_zero(webuddy_client):
    user = funded_user(webuddy_client, 10, max_credits=100)
    expert = create_user(webuddy_client)
    monitor(webuddy_client, user["id"], 0)
    start = webuddy_client.post("/v1/sessions/start", {"userId": user["id"], "expertId": expert["id"], "sessionFee": 10},
                                format="json").json()
    assert fired() == []  # 0 available is not below 0
    ended = webuddy_client.post("/v1/sessions/end", {"sessionId": start["id"], "expertId": expert["id"], "actualFee": 60},
                                format="json")
    assert ended.status_code == 200, ended.content
    assert [e.data["availableBalance"] for e in fired()] == [D("-50.00")]


def test_list_by_user_and_delete(webuddy_client):
    first, second = create_user(webuddy_client), create_user(webuddy_client)
    one = monitor(webuddy_client, first["id"], 5)
    monitor(webuddy_client, second["id"], 7)

    listed = webuddy_client.get(f"/v1/wallet/monitors?userId={first['id']}").json()
    assert listed == {"items": [one]}
    assert set(one) == {"id", "userId", "below", "currency", "createdAt"}
    assert len(webuddy_client.get("/v1/wallet/monitors").json()["items"]) == 2

    assert webuddy_client.delete(f"/v1/wallet/monitors/{one['id']}").status_code == 204
    again = webuddy_client.delete(f"/v1/wallet/monitors/{one['id']}")
    assert (again.status_code, again.json()["code"]) == (404, "monitor_not_found")
    assert webuddy_client.get(f"/v1/wallet/monitors?userId={first['id']}").json() == {"items": []}
    assert Account.objects.get(user_id=first["id"]).monitored is False
    assert Account.objects.get(user_id=second["id"]).monitored is True


def test_a_deleted_monitor_fires_no_more(webuddy_client):
    user = funded_user(webuddy_client, 100)
    watched = monitor(webuddy_client, user["id"], 50)
    webuddy_client.delete(f"/v1/wallet/monitors/{watched['id']}")
    spend(user["id"], 90)
    assert fired() == []


@pytest.mark.parametrize("below", [-1, "10", "abc", None, True, D("1.001"), D("1e13")])
def test_bad_amounts_are_400(webuddy_client, below):
    user = create_user(webuddy_client)
    response = webuddy_client.post("/v1/wallet/monitors", {"userId": user["id"], "below": below}, format="json")
    assert (response.status_code, response.json()["code"]) == (400, "validation_error")
    assert "below" in response.json()["fields"]


def test_unknown_and_other_tenants_users_are_404(webuddy_client):
    _, tmr_user = signed_in()
    for user_id in (tmr_user["id"], "00000000-0000-0000-0000-000000000000", "nope"):
        response = webuddy_client.post("/v1/wallet/monitors", {"userId": user_id, "below": 1}, format="json")
        assert (response.status_code, response.json()["code"]) == (404, "user_not_found")
        listed = webuddy_client.get(f"/v1/wallet/monitors?userId={user_id}")
        assert (listed.status_code, listed.json()["code"]) == (404, "user_not_found")


def test_holds_alone_also_fire(webuddy_client):
    """A hold placed by a service (a payout, an escrow) changes the available balance too."""
    user = funded_user(webuddy_client, 100)
    monitor(webuddy_client, user["id"], 60)
    with transaction.atomic():
        hold_services.hold_place(wallet=Account.objects.get(user_id=user["id"]), amount=D(50), reference_type="test",
                                 reference_id="t-1", description="held")
    assert [e.data["availableBalance"] for e in fired()] == [D("50.00")]


def test_a_wallet_keeps_at_most_10_monitors(webuddy_client):
    user = create_user(webuddy_client)
    for n in range(10):
        monitor(webuddy_client, user["id"], n)
    refused = webuddy_client.post("/v1/wallet/monitors", {"userId": user["id"], "below": 11}, format="json")
    assert (refused.status_code, refused.json()["code"]) == (409, "limit_reached")
