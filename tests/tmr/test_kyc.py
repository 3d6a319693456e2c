"""`/api/v1/wallet/kyc`: submit once (again only after a rejection), masked and encrypted id numbers."""
import pytest

from kyc import services as kyc_services
from kyc.models import KycSubmission
from tests.tmr.helpers import UTC, signed_in
from wallets.crypto import decrypt

pytestmark = pytest.mark.django_db
SEED = {"full_name": "张明", "id_type": "national_id", "id_number": "310101199001011234"}


def test_submit_matches_the_seed_example():
    client, user = signed_in()

    response = client.post("/api/v1/wallet/kyc", SEED, format="json")

    assert response.status_code == 201
    body = response.json()
    assert body["user_id"] == user["id"]
    assert {k: body[k] for k in ("full_name", "id_type", "id_number", "status", "verified_at")} == {
        "full_name": "张明", "id_type": "national_id", "id_number": "310101****1234", "status": "pending", "verified_at": None,
    }
    assert set(body) == {"user_id", "full_name", "id_type", "id_number", "status", "submitted_at", "verified_at"}
    assert UTC.match(body["submitted_at"])
    row = KycSubmission.objects.get(user_id=user["id"])
    assert "310101199001011234" not in row.id_number_encrypted
    assert decrypt(row.id_number_encrypted) == "310101199001011234"
    assert client.get("/api/v1/wallet/kyc").json() == body


def test_no_submission_is_404():
    client, _ = signed_in()
    response = client.get("/api/v1/wallet/kyc")
    assert (response.status_code, response.json()["code"]) == (404, "kyc_not_found")


def test_resubmission_only_after_a_rejection():
    client, user = signed_in()
    client.post("/api/v1/wallet/kyc", SEED, format="json")
    again = client.post("/api/v1/wallet/kyc", SEED, format="json")
    assert (again.status_code, again.json()["code"]) == (409, "kyc_already_submitted")

    submission = KycSubmission.objects.get(user_id=user["id"])
    kyc_services.kyc_reject(submission_id=submission.id, staff=None, reason="blurry photo")
    assert client.get("/api/v1/wallet/kyc").json()["status"] == "rejected"

    resubmitted = client.post("/api/v1/wallet/kyc", {**SEED, "id_number": "310101199001015678"}, format="json")
    assert resubmitted.status_code == 201 and resubmitted.json()["id_number"] == "310101****5678"
    assert client.get("/api/v1/wallet/kyc").json()["status"] == "pending"


def test_verified_status_shows_at_once_and_blocks_resubmission():
    client, user = signed_in()
    client.post("/api/v1/wallet/kyc", SEED, format="json")
    submission = KycSubmission.objects.get(user_id=user["id"])

    kyc_services.kyc_approve(submission_id=submission.id, staff=None)

    body = client.get("/api/v1/wallet/kyc").json()
    assert body["status"] == "verified" and UTC.match(body["verified_at"])
    assert client.post("/api/v1/wallet/kyc", SEED, format="json").json()["code"] == "kyc_already_submitted"
    with pytest.raises(kyc_services.DomainError):
        kyc_services.kyc_reject(submission_id=submission.id, staff=None, reason="late")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"id_type": "passport", "id_number": "E12345678"}, "full_name"),
        ({"full_name": "Mei", "id_number": "E12345678"}, "id_type"),
        ({"full_name": "Mei", "id_type": "passport"}, "id_number"),
        ({"full_name": "Mei", "id_type": "library_card", "id_number": "E12345678"}, "id_type"),
        ({"full_name": "Mei", "id_type": "passport", "id_number": "12"}, "id_number"),
        ({"full_name": "", "id_type": "passport", "id_number": "E12345678"}, "full_name"),
    ],
)
def test_missing_or_bad_fields_are_422(body, field):
    client, _ = signed_in()
    response = client.post("/api/v1/wallet/kyc", body, format="json")
    assert (response.status_code, response.json()["code"]) == (422, "validation_error")
    assert field in response.json()["fields"]


@pytest.mark.parametrize(
    ("number", "masked"), [("310101199001011234", "310101****1234"), ("E12345678", "****5678"), ("1234", "****")]
)
def test_masking(number, masked):
    assert kyc_services.id_number_mask(number) == masked


def test_kyc_needs_a_signed_in_user(api_client):
    assert api_client.get("/api/v1/wallet/kyc").json()["code"] == "not_authenticated"
    assert api_client.post("/api/v1/wallet/kyc", SEED, format="json").status_code == 401
