"""Consultation sessions end to end through `/v1/sessions/*`: the hold, adjustments, settlement."""
from decimal import Decimal

import pytest

from experts.models import ExpertProfile
from tests.invariants import assert_ledger_invariants
from tests.webuddy.helpers import create_user, funded_user, num, post_json, wallet_of
from wallets.models import Account
from wallets.selectors import system_account_balance

pytestmark = pytest.mark.django_db
D = Decimal


@pytest.fixture(autouse=True)
def _ledger_stays_whole(db):
    yield
    assert_ledger_invariants()


def start(client, user, expert, fee):
    return client.post("/v1/sessions/start", {"userId": user["id"], "expertId": expert["id"], "sessionFee": fee}, format="json")


def adjust(client, session, fee, defer):
    return client.post("/v1/sessions/adjust", {"sessionId": session["id"], "adjustedFee": fee, "deferFee": defer}, format="json")


def end(client, session, expert, fee):
    return client.post("/v1/sessions/end", {"sessionId": session["id"], "expertId": expert["id"], "actualFee": fee}, format="json")


def balances(client, user):
    w = wallet_of(client, user["id"])
    return num(w["balance"]), num(w["heldBalance"]), num(w["availableBalance"])


def test_start_holds_the_session_fee(webuddy_client):
    user, expert = funded_user(webuddy_client, 500), create_user(webuddy_client)

    response = start(webuddy_client, user, expert, 100)

    assert response.status_code == 201
    body = response.json()
    assert set(body) == {
        "id", "userId", "expertId", "status", "sessionFee", "currentFee", "heldAmount", "deferredAmount",
        "actualFee", "chargedAmount", "expertEarning", "platformFee", "startedAt", "endedAt",
    }
    assert (body["userId"], body["expertId"], body["status"]) == (user["id"], expert["id"], "active")
    assert (body["sessionFee"], body["currentFee"], body["heldAmount"], body["deferredAmount"]) == (100, 100, 100, 0)
    assert (body["actualFee"], body["chargedAmount"], body["expertEarning"], body["platformFee"], body["endedAt"]) == (None,) * 5
    assert balances(webuddy_client, user) == (D(500), D(100), D(400))
    assert webuddy_client.get(f"/v1/sessions/{body['id']}").json() == body


def test_start_needs_available_funds(webuddy_client):
    user, expert = funded_user(webuddy_client, 99.99, max_credits=1000), create_user(webuddy_client)
    response = start(webuddy_client, user, expert, 100)
    assert (response.status_code, response.json()["code"]) == (400, "insufficient_balance")
    assert balances(webuddy_client, user) == (D("99.99"), D(0), D("99.99"))


@pytest.mark.parametrize(
    ("expert_id", "status", "code"),
    [("00000000-0000-0000-0000-000000000000", 404, "expert_not_found"), ("x", 404, "expert_not_found"), ("self", 400, "validation_error")],
)
def test_start_needs_another_existing_user_as_expert(webuddy_client, expert_id, status, code):
    user = funded_user(webuddy_client, 100)
    expert = {"id": user["id"] if expert_id == "self" else expert_id}
    response = start(webuddy_client, user, expert, 10)
    assert (response.status_code, response.json()["code"]) == (status, code)


def test_start_for_an_unknown_user_is_404(webuddy_client):
    expert = create_user(webuddy_client)
    response = start(webuddy_client, {"id": "00000000-0000-0000-0000-000000000000"}, expert, 10)
    assert (response.status_code, response.json()["code"]) == (404, "user_not_found")


@pytest.mark.parametrize("fee", ["0", "-5", "1.005", '"10"', "1e13", "NaN"])
def test_bad_fees_are_400(webuddy_client, fee):
    user, expert = funded_user(webuddy_client, 100), create_user(webuddy_client)
    body = '{"userId": "%s", "expertId": "%s", "sessionFee": %s}' % (user["id"], expert["id"], fee)
    response = post_json(webuddy_client, "/v1/sessions/start", body)
    assert (response.status_code, response.json()["code"]) == (400, "validation_error")
    assert "sessionFee" in response.json()["fields"]
    assert balances(webuddy_client, user) == (D(100), D(0), D(100))


def test_adjust_up_and_down_resizes_the_hold_now(webuddy_client):
    user, expert = funded_user(webuddy_client, 500), create_user(webuddy_client)
    session = start(webuddy_client, user, expert, 100).json()

    up = adjust(webuddy_client, session, 120, False)
    assert up.status_code == 200
    assert (up.json()["currentFee"], up.json()["heldAmount"], up.json()["deferredAmount"]) == (120, 120, 0)
    assert balances(webuddy_client, user) == (D(500), D(120), D(380))

    down = adjust(webuddy_client, session, 80, False)
    assert (down.json()["currentFee"], down.json()["heldAmount"]) == (80, 80)
    assert balances(webuddy_client, user) == (D(500), D(80), D(420))
    assert down.json()["sessionFee"] == 100


def test_adjust_up_without_available_funds_is_refused(webuddy_client):
    user, expert = funded_user(webuddy_client, 110, max_credits=500), create_user(webuddy_client)
    session = start(webuddy_client, user, expert, 100).json()

    response = adjust(webuddy_client, session, 110.01, False)

    assert (response.status_code, response.json()["code"]) == (400, "insufficient_balance")
    assert webuddy_client.get(f"/v1/sessions/{session['id']}").json()["heldAmount"] == 100


def test_deferred_adjust_keeps_the_hold_and_records_the_difference(webuddy_client):
    user, expert = funded_user(webuddy_client, 100), create_user(webuddy_client)
    session = start(webuddy_client, user, expert, 100).json()

    response = adjust(webuddy_client, session, 150, True)

    assert response.status_code == 200
    assert (response.json()["currentFee"], response.json()["heldAmount"], response.json()["deferredAmount"]) == (150, 100, 50)
    assert balances(webuddy_client, user) == (D(100), D(100), D(0))


@pytest.mark.parametrize(
    ("actual", "user_balance_after"),
    [(60, D(440)), (100, D(400)), (130, D(370))],
    ids=["below-hold", "equal-to-hold", "above-hold"],
)
def test_end_charges_the_actual_fee_and_pays_the_expert(webuddy_client, actual, user_balance_after):
    user, expert = funded_user(webuddy_client, 500), create_user(webuddy_client)
    session = start(webuddy_client, user, expert, 100).json()

    response = end(webuddy_client, session, expert, actual)

    assert response.status_code == 200
    body = response.json()
    fee = D(actual) / 10
    assert body["status"] == "settled"
    assert (num(body["actualFee"]), num(body["chargedAmount"])) == (D(actual), D(actual))
    assert (num(body["platformFee"]), num(body["expertEarning"])) == (fee, D(actual) - fee)
    assert (body["heldAmount"], body["deferredAmount"]) == (0, 0)
    assert body["endedAt"] is not None
    assert balances(webuddy_client, user) == (user_balance_after, D(0), user_balance_after)
    assert balances(webuddy_client, expert) == (D(actual) - fee, D(0), D(actual) - fee)
    assert system_account_balance(tenant="webuddy", code=Account.System.PLATFORM_REVENUE, currency="INR") == fee


def test_deferred_fee_may_take_the_balance_below_zero_within_max_credits(webuddy_client):
    user, expert = funded_user(webuddy_client, 100, max_credits=50), create_user(webuddy_client)
    session = start(webuddy_client, user, expert, 100).json()
    adjust(webuddy_client, session, 150, True)

    response = end(webuddy_client, session, expert, 150)

    assert response.status_code == 200
    assert balances(webuddy_client, user) == (D(-50), D(0), D(-50))
    assert balances(webuddy_client, expert) == (D(135), D(0), D(135))


def test_deferred_fee_beyond_max_credits_is_refused_and_the_session_stays_active(webuddy_client):
    user, expert = funded_user(webuddy_client, 100, max_credits=50), create_user(webuddy_client)
    session = start(webuddy_client, user, expert, 100).json()
    adjust(webuddy_client, session, 150.01, True)

    response = end(webuddy_client, session, expert, 150.01)

    assert (response.status_code, response.json()["code"]) == (400, "insufficient_balance")
    again = webuddy_client.get(f"/v1/sessions/{session['id']}").json()
    assert (again["status"], again["heldAmount"]) == ("active", 100)
    assert balances(webuddy_client, user) == (D(100), D(100), D(0))
    assert balances(webuddy_client, expert) == (D(0), D(0), D(0))
    assert end(webuddy_client, session, expert, 150).status_code == 200


def test_ending_twice_is_409_session_not_active(webuddy_client):
    user, expert = funded_user(webuddy_client, 500), create_user(webuddy_client)
    session = start(webuddy_client, user, expert, 100).json()
    end(webuddy_client, session, expert, 100)

    response = end(webuddy_client, session, expert, 100)
    assert (response.status_code, response.json()["code"]) == (409, "session_not_active")
    response = adjust(webuddy_client, session, 50, False)
    assert (response.status_code, response.json()["code"]) == (409, "session_not_active")
    assert balances(webuddy_client, user) == (D(400), D(0), D(400))


def test_end_by_another_expert_is_400_expert_mismatch(webuddy_client):
    user, expert, other = funded_user(webuddy_client, 500), create_user(webuddy_client), create_user(webuddy_client)
    session = start(webuddy_client, user, expert, 100).json()

    response = end(webuddy_client, session, other, 100)

    assert (response.status_code, response.json()["code"]) == (400, "expert_mismatch")
    assert webuddy_client.get(f"/v1/sessions/{session['id']}").json()["status"] == "active"


@pytest.mark.parametrize("session_id", ["00000000-0000-0000-0000-000000000000", "nope"])
def test_unknown_session_is_404(webuddy_client, session_id):
    expert = create_user(webuddy_client)
    assert webuddy_client.get(f"/v1/sessions/{session_id}").json()["code"] == "session_not_found"
    for response in (
        end(webuddy_client, {"id": session_id}, expert, 1),
        adjust(webuddy_client, {"id": session_id}, 1, False),
    ):
        assert (response.status_code, response.json()["code"]) == (404, "session_not_found")


def test_the_experts_own_rate_and_rounding(webuddy_client):
    user, expert = funded_user(webuddy_client, 500), create_user(webuddy_client)
    ExpertProfile.objects.create(user_id=expert["id"], platform_fee_percent=D("15"))
    session = start(webuddy_client, user, expert, 100).json()

    body = end(webuddy_client, session, expert, 33.33).json()

    assert (num(body["platformFee"]), num(body["expertEarning"])) == (D("5.00"), D("28.33"))  # 4.9995 -> 5.00


def test_platform_fee_percent_setting(webuddy_client, settings):
    settings.PLATFORM_FEE_PERCENT = D("20")
    user, expert = funded_user(webuddy_client, 500), create_user(webuddy_client)
    session = start(webuddy_client, user, expert, 100).json()
    body = end(webuddy_client, session, expert, 50).json()
    assert (body["platformFee"], body["expertEarning"]) == (10, 40)


def test_a_zero_actual_fee_releases_everything(webuddy_client):
    user, expert = funded_user(webuddy_client, 500), create_user(webuddy_client)
    session = start(webuddy_client, user, expert, 100).json()
    body = end(webuddy_client, session, expert, 0).json()
    assert (body["status"], body["chargedAmount"], body["expertEarning"], body["platformFee"]) == ("settled", 0, 0, 0)
    assert balances(webuddy_client, user) == (D(500), D(0), D(500))


def test_expire_sessions_cancels_old_active_sessions_and_releases_their_holds(webuddy_client, capsys):
    from datetime import timedelta

    from django.core.management import call_command
    from django.utils import timezone

    from sessions_app.models import ConsultationSession

    user, expert = funded_user(webuddy_client, 500), create_user(webuddy_client)
    old = start(webuddy_client, user, expert, 100).json()
    fresh = start(webuddy_client, user, expert, 50).json()
    ConsultationSession.objects.filter(pk=old["id"]).update(started_at=timezone.now() - timedelta(hours=7))

    call_command("expire_sessions", "--older-than", "6h")

    assert "Expired 1 session(s)." in capsys.readouterr().out
    assert webuddy_client.get(f"/v1/sessions/{old['id']}").json()["status"] == "cancelled"
    assert webuddy_client.get(f"/v1/sessions/{fresh['id']}").json()["status"] == "active"
    assert balances(webuddy_client, user) == (D(500), D(50), D(450))
