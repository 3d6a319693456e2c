"""`/v1/experts/bank-details`: validated, encrypted at rest, masked, deduplicated, first is primary."""
import pytest

from experts.models import BankDetail
from tests.webuddy.helpers import create_user

pytestmark = pytest.mark.django_db


def add(client, expert_id, number="123456789012", ifsc="HDFC0001234", **extra):
    headers = {name: extra.pop(name) for name in list(extra) if name.startswith("HTTP_")}  # headers, not fields
    body = {
        "expertId": expert_id,
        "bankName": "HDFC Bank",
        "accountNumber": number,
        "ifscCode": ifsc,
        "accountHolderName": "Ravi Kumar",
        **extra,
    }
    return client.post("/v1/experts/bank-details", body, format="json", **headers)


def test_add_bank_detail_masks_and_encrypts_the_account_number(webuddy_client):
    expert = create_user(webuddy_client)

    response = add(webuddy_client, expert["id"], branchName="Andheri")

    assert response.status_code == 201
    body = response.json()
    assert set(body) == {"id", "expertId", "bankName", "accountNumber", "ifscCode", "accountHolderName", "branchName", "isPrimary", "createdAt"}
    assert body["accountNumber"] == "XXXXXX9012"
    assert (body["expertId"], body["ifscCode"], body["branchName"], body["isPrimary"]) == (expert["id"], "HDFC0001234", "Andheri", True)
    row = BankDetail.objects.get(pk=body["id"])
    assert "123456789012" not in row.account_number_encrypted and "123456789012" not in row.account_number_hash
    from wallets.crypto import decrypt

    assert decrypt(row.account_number_encrypted) == "123456789012"


def test_only_the_first_bank_detail_is_primary_and_the_list_shows_all(webuddy_client):
    expert = create_user(webuddy_client)
    add(webuddy_client, expert["id"], number="111111111")
    second = add(webuddy_client, expert["id"], number="222222222")
    assert second.json()["isPrimary"] is False

    response = webuddy_client.get(f"/v1/experts/{expert['id']}/bank-details")

    assert response.status_code == 200
    assert [(i["accountNumber"], i["isPrimary"]) for i in response.json()["items"]] == [("XXXXXX1111", True), ("XXXXXX2222", False)]


def test_the_same_account_twice_is_409(webuddy_client):
    expert = create_user(webuddy_client)
    add(webuddy_client, expert["id"])
    response = add(webuddy_client, expert["id"], number="1234 5678 9012")
    assert (response.status_code, response.json()["code"]) == (409, "bank_account_exists")
    assert BankDetail.objects.count() == 1


@pytest.mark.parametrize(
    ("number", "ifsc", "field"),
    [
        ("12345678", "HDFC0001234", "accountNumber"),
        ("1234567890123456789", "HDFC0001234", "accountNumber"),
        ("12345678901a", "HDFC0001234", "accountNumber"),
        ("123456789012", "HDFC1001234", "ifscCode"),
        ("123456789012", "HDF0001234", "ifscCode"),
        ("123456789012", "HDFC000123$", "ifscCode"),
    ],
)
def test_invalid_account_numbers_and_ifsc_codes_are_400(webuddy_client, number, ifsc, field):
    expert = create_user(webuddy_client)
    response = add(webuddy_client, expert["id"], number=number, ifsc=ifsc)
    assert (response.status_code, response.json()["code"]) == (400, "validation_error")
    assert field in response.json()["fields"]


def test_lowercase_ifsc_is_accepted_in_capitals(webuddy_client):
    expert = create_user(webuddy_client)
    assert add(webuddy_client, expert["id"], ifsc="sbin0005943").json()["ifscCode"] == "SBIN0005943"


@pytest.mark.parametrize("expert_id", ["00000000-0000-0000-0000-000000000000", "nope"])
def test_unknown_expert_is_404(webuddy_client, expert_id):
    assert add(webuddy_client, expert_id).json()["code"] == "expert_not_found"
    response = webuddy_client.get(f"/v1/experts/{expert_id}/bank-details")
    assert (response.status_code, response.json()["code"]) == (404, "expert_not_found")
