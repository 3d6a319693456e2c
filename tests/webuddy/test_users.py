"""`/v1/users`: create, get, update; phone numbers in E.164; max_credits is the credit limit."""
import pytest

from tests.webuddy.helpers import create_user, funded_user, post_json
from wallets.models import Account

pytestmark = pytest.mark.django_db


def test_create_user_returns_the_user_with_a_new_wallet(webuddy_client):
    response = webuddy_client.post(
        "/v1/users",
        {"phoneNumber": "+91 98765 43210", "name": "Asha", "max_credits": 100, "settings": {"lang": "hi"}},
        format="json",
    )

    assert response.status_code == 201
    body = response.json()
    assert set(body) == {"id", "phoneNumber", "name", "max_credits", "settings", "wallet", "createdAt", "updatedAt"}
    assert body["phoneNumber"] == "+919876543210"
    assert body["name"] == "Asha"
    assert body["max_credits"] == 100
    assert b'"max_credits":100.00' in response.content
    assert body["settings"] == {"lang": "hi"}
    assert body["wallet"] == {"balance": 0, "heldBalance": 0, "availableBalance": 0, "currency": "INR", "status": "active"}
    assert body["createdAt"].endswith("Z")
    wallet = Account.objects.get(user_id=body["id"])
    assert (wallet.currency, wallet.credit_limit) == ("INR", 100)


def test_local_numbers_use_the_default_region(webuddy_client):
    assert create_user(webuddy_client, phone="09876543211")["phoneNumber"] == "+919876543211"


def test_only_phone_number_is_required(webuddy_client):
    response = webuddy_client.post("/v1/users", {"phoneNumber": "+14155552671"}, format="json")
    assert response.status_code == 201
    assert (response.json()["name"], response.json()["max_credits"], response.json()["settings"]) == ("", 0, {})


@pytest.mark.parametrize(
    "body",
    [
        '{"phoneNumber": "12"}',
        '{"phoneNumber": "not a phone"}',
        '{"phoneNumber": "+91 12345"}',
        '{}',
        '{"phoneNumber": "+919876543210", "max_credits": -1}',
        '{"phoneNumber": "+919876543210", "max_credits": 1.001}',
        '{"phoneNumber": "+919876543210", "max_credits": "100"}',
        '{"phoneNumber": "+919876543210", "settings": [1, 2]}',
    ],
)
def test_bad_user_input_is_400_validation_error(webuddy_client, body):
    response = post_json(webuddy_client, "/v1/users", body)
    assert response.status_code == 400
    assert response.json()["code"] == "validation_error"
    assert response.json()["fields"]


def test_duplicate_phone_number_is_409(webuddy_client):
    create_user(webuddy_client, phone="+919876500000")
    response = webuddy_client.post("/v1/users", {"phoneNumber": "98765 00000"}, format="json")
    assert (response.status_code, response.json()["code"]) == (409, "phone_number_taken")


def test_get_user(webuddy_client):
    user = funded_user(webuddy_client, 250)
    response = webuddy_client.get(f"/v1/users/{user['id']}")
    assert response.status_code == 200
    assert response.json()["wallet"] == {
        "balance": 250, "heldBalance": 0, "availableBalance": 250, "currency": "INR", "status": "active"
    }


@pytest.mark.parametrize("user_id", ["00000000-0000-0000-0000-000000000000", "nope"])
def test_unknown_user_is_404(webuddy_client, user_id):
    assert webuddy_client.get(f"/v1/users/{user_id}").json()["code"] == "user_not_found"
    response = webuddy_client.patch(f"/v1/users/{user_id}", {"name": "x"}, format="json")
    assert (response.status_code, response.json()["code"]) == (404, "user_not_found")


def test_patch_changes_only_what_was_sent(webuddy_client):
    user = create_user(webuddy_client, name="Asha", max_credits=10)
    response = webuddy_client.patch(f"/v1/users/{user['id']}", {"name": "Asha K", "settings": {"a": 1}}, format="json")
    assert response.status_code == 200
    body = response.json()
    assert (body["name"], body["settings"], body["phoneNumber"], body["max_credits"]) == ("Asha K", {"a": 1}, user["phoneNumber"], 10)


def test_patch_max_credits_updates_the_wallet_credit_limit(webuddy_client):
    user = create_user(webuddy_client)
    webuddy_client.patch(f"/v1/users/{user['id']}", {"max_credits": 500}, format="json")
    assert Account.objects.get(user_id=user["id"]).credit_limit == 500


def test_max_credits_cannot_drop_below_credit_in_use(webuddy_client):
    user = funded_user(webuddy_client, 50, max_credits=100)
    expert = create_user(webuddy_client)
    session = webuddy_client.post(
        "/v1/sessions/start", {"userId": user["id"], "expertId": expert["id"], "sessionFee": 50}, format="json"
    ).json()
    end = webuddy_client.post(
        "/v1/sessions/end", {"sessionId": session["id"], "expertId": expert["id"], "actualFee": 110}, format="json"
    )
    assert end.status_code == 200
    assert Account.objects.get(user_id=user["id"]).balance == -60

    response = webuddy_client.patch(f"/v1/users/{user['id']}", {"max_credits": 59.99}, format="json")
    assert (response.status_code, response.json()["code"]) == (409, "credit_in_use")
    assert Account.objects.get(user_id=user["id"]).credit_limit == 100
    assert webuddy_client.patch(f"/v1/users/{user['id']}", {"max_credits": 60}, format="json").status_code == 200
    assert Account.objects.get(user_id=user["id"]).credit_limit == 60


def test_patch_to_a_taken_phone_number_is_409(webuddy_client):
    first = create_user(webuddy_client)
    second = create_user(webuddy_client)
    response = webuddy_client.patch(f"/v1/users/{second['id']}", {"phoneNumber": first["phoneNumber"]}, format="json")
    assert (response.status_code, response.json()["code"]) == (409, "phone_number_taken")
