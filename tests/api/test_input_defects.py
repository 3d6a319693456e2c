"""Inputs an adversarial run found answered 500 or accepted what they should refuse, through the HTTP
API: each is now a clean 4xx with the envelope (or kept exactly), and no balance moves."""
import json
from decimal import Decimal

import pytest
from rest_framework.test import APIClient

from tests.invariants import assert_ledger_invariants, money_snapshot
from tests.tmr.helpers import charge, signed_in
from tests.webuddy.helpers import PHONES, create_user, funded_user, post_json
from tests.webuddy.test_bank_details import add as add_bank

pytestmark = pytest.mark.django_db
D = Decimal
ARABIC_INDIC = str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")
FULL_WIDTH = str.maketrans("0123456789", "０１２３４５６７８９")


@pytest.fixture(autouse=True)
def _ledger_stays_whole(db):
    yield
    assert_ledger_invariants()


def refused(response, status: int, code: str, field: str | None = None) -> dict:
    body = response.json()
    assert (response.status_code, body["code"]) == (status, code), response.content
    assert isinstance(body["message"], str) and body["message"]
    if field is not None:
        assert field in body["fields"], body
    return body


# Digits are ASCII digits wherever a number is read from text


@pytest.mark.parametrize("script", [ARABIC_INDIC, FULL_WIDTH], ids=["arabic-indic", "full-width"])
def test_a_bank_account_number_in_other_digits_is_refused_not_registered_twice(webuddy_client, script):
    expert = create_user(webuddy_client)
    assert add_bank(webuddy_client, expert["id"], number="123456789012").status_code == 201
    before = money_snapshot()

    response = add_bank(webuddy_client, expert["id"], number="123456789012".translate(script))

    refused(response, 400, "validation_error", "accountNumber")
    assert len(webuddy_client.get(f"/v1/experts/{expert['id']}/bank-details").json()["items"]) == 1
    assert money_snapshot() == before


@pytest.mark.parametrize("month", ["2026-01".translate(ARABIC_INDIC), "2026-01".translate(FULL_WIDTH)])
def test_a_month_spelled_in_other_digits_is_refused(webuddy_client, month):
    expert = funded_user(webuddy_client, 100)
    add_bank(webuddy_client, expert["id"])
    before = money_snapshot()

    response = webuddy_client.post("/v1/payouts/monthly", {"expertId": expert["id"], "month": month}, format="json")

    refused(response, 400, "validation_error", "month")
    assert money_snapshot() == before


@pytest.mark.parametrize(("month", "code"), [("0000-01", "validation_error"), ("1969-12", "validation_error"),
                                             ("9999-12", "month_not_ended")])
def test_months_out_of_range_are_400(webuddy_client, month, code):
    expert = funded_user(webuddy_client, 100)
    add_bank(webuddy_client, expert["id"])
    before = money_snapshot()

    response = webuddy_client.post("/v1/payouts/monthly", {"expertId": expert["id"], "month": month}, format="json")

    refused(response, 400, code)
    assert money_snapshot() == before


def test_a_phone_number_in_other_digits_is_refused(webuddy_client):
    response = webuddy_client.post("/v1/users", {"phoneNumber": "+91 98765 43210".translate(ARABIC_INDIC)}, format="json")
    refused(response, 400, "validation_error", "phoneNumber")


@pytest.mark.parametrize("query", ["page=" + "2".translate(ARABIC_INDIC), "page=1_0", "pageSize=" + "5".translate(FULL_WIDTH),
                                   "page=+2", "page= 2"])
def test_page_numbers_take_ascii_digits_only(webuddy_client, query):
    user = funded_user(webuddy_client, 10)
    refused(webuddy_client.get(f"/v1/wallet/history?userId={user['id']}&{query}"), 400, "validation_error")


def test_history_times_take_ascii_digits_and_stay_in_range(webuddy_client):
    user = funded_user(webuddy_client, 10)
    url = f"/v1/wallet/history?userId={user['id']}"
    refused(webuddy_client.get(url + "&from=" + "2026-01-01T00:00:00Z".translate(ARABIC_INDIC)), 400, "validation_error", "from")
    refused(webuddy_client.get(url + "&to=0000-01-01T00:00:00Z"), 400, "validation_error", "to")
    far = webuddy_client.get(url + "&to=9999-12-31T23:59:59%2B14:00")
    assert far.status_code == 200 and far.json()["total"] == 1
    late = webuddy_client.get(url + "&from=9999-12-31T23:59:59-23:00")
    assert late.status_code in (200, 400), late.content  # a time past year 9999 in UTC: refused or empty, never a 500


@pytest.mark.parametrize("spelling", [
    lambda i: i.translate(ARABIC_INDIC), lambda i: "{" + i + "}", lambda i: "urn:uuid:" + i, lambda i: i[:8] + "-" + i[8:],
    lambda i: " " + i, lambda i: i.replace("-", "_"),
], ids=["arabic-indic", "braces", "urn", "stray-hyphen", "space", "underscores"])
def test_an_id_spelled_other_than_as_a_uuid_is_not_found(webuddy_client, spelling):
    user = create_user(webuddy_client)
    refused(webuddy_client.get(f"/v1/users/{spelling(user['id'])}"), 404, "user_not_found")


def test_a_tmr_user_id_must_be_a_uuid_string(tmr_key_client):
    buyer, user = signed_in()
    charge(buyer, 50)
    before = money_snapshot()
    for user_id in (int(user["id"].replace("-", ""), 16), user["id"].translate(FULL_WIDTH)):
        response = tmr_key_client.post("/api/v1/wallet/escrow/freeze",
                                       {"user_id": user_id, "order_id": "o-1", "amount": 5, "currency": "USD"}, format="json")
        refused(response, 422, "validation_error", "user_id")
    assert money_snapshot() == before


# Any JSON value a seed allows is stored and returned exactly; what the database cannot keep is a 4xx


def test_settings_with_fractions_are_kept_exactly(webuddy_client):
    body = '{"phoneNumber": "%s", "settings": {"rate": 1.50, "tiny": 0.000001, "big": 12345678901234567890.5, "n": [1, 2.0, -0.0]}}'
    created = post_json(webuddy_client, "/v1/users", body % next(PHONES))
    assert created.status_code == 201, created.content
    assert b'"rate":1.50' in created.content and b'"big":12345678901234567890.5' in created.content

    fetched = webuddy_client.get(f"/v1/users/{created.json()['id']}")
    assert b'"rate":1.50' in fetched.content and b'"tiny":0.000001' in fetched.content
    settings = json.loads(fetched.content, parse_float=Decimal)["settings"]
    assert settings == {"rate": D("1.50"), "tiny": D("0.000001"), "big": D("12345678901234567890.5"), "n": [1, D("2.0"), D("-0.0")]}

    patched = webuddy_client.patch(f"/v1/users/{created.json()['id']}", data='{"settings": {"rate": 2.25}}',
                                   content_type="application/json")
    assert patched.status_code == 200 and b'"settings":{"rate":2.25}' in patched.content


@pytest.mark.parametrize("settings", [
    '{"note": "a\\u0000b"}', '{"a\\u0000": 1}', '{"x": "\\ud800"}', '{"rate": NaN}', '{"rate": Infinity}', '{"x": 1e5000}',
])
@pytest.mark.parametrize("method", ["post", "patch"])
def test_settings_the_database_cannot_keep_are_400(webuddy_client, settings, method):
    user = create_user(webuddy_client)
    before = money_snapshot()
    if method == "post":
        response = post_json(webuddy_client, "/v1/users", '{"phoneNumber": "%s", "settings": %s}' % (next(PHONES), settings))
    else:
        response = webuddy_client.patch(f"/v1/users/{user['id']}", data='{"settings": %s}' % settings,
                                        content_type="application/json")

    refused(response, 400, "validation_error", "settings")
    assert money_snapshot() == before
    assert webuddy_client.get(f"/v1/users/{user['id']}").json()["settings"] == {}


def test_a_name_with_a_nul_character_is_400(webuddy_client):
    refused(post_json(webuddy_client, "/v1/users", '{"phoneNumber": "%s", "name": "a\\u0000b"}' % next(PHONES)),
            400, "validation_error", "name")


# Page numbers, offsets and limits beyond what the database holds


def test_a_page_beyond_any_ledger_is_400_and_a_page_past_the_end_is_empty(webuddy_client):
    user = funded_user(webuddy_client, 10)
    url = f"/v1/wallet/history?userId={user['id']}"
    refused(webuddy_client.get(url + "&page=10000000000000000000"), 400, "validation_error", "page")
    far = webuddy_client.get(url + "&page=1000000000000000&pageSize=100")
    assert far.status_code == 200
    assert (far.json()["items"], far.json()["total"], far.json()["totalPages"]) == ([], 1, 1)


def test_an_offset_beyond_any_ledger_is_422_and_past_the_end_is_empty():
    client, _ = signed_in()
    charge(client, 5)
    refused(client.get("/api/v1/wallet/transactions?offset=10000000000000000000"), 422, "validation_error", "offset")
    far = client.get("/api/v1/wallet/transactions?offset=1000000000000000&type=deposit")
    assert (far.status_code, far.json()) == (200, {"items": [], "total": 1})


# Amounts are refused, never rounded, however many digits they carry


@pytest.mark.parametrize("amount", ["1.0000000000000000000000000000001", "999999999999.9999999999999999999", "1e-999999999",
                                    "1e-6000000000000000000000"])
def test_amounts_beyond_the_currency_are_refused_not_rounded(webuddy_client, amount):
    user = create_user(webuddy_client)
    before = money_snapshot()

    response = post_json(webuddy_client, "/v1/wallet/recharge",
                         '{"userId": "%s", "amount": %s, "paymentMethod": "STRIPE"}' % (user["id"], amount))

    assert response.status_code == 400 and response.json()["code"] in ("validation_error", "malformed_json")
    assert money_snapshot() == before


def test_a_number_out_of_range_anywhere_in_a_body_is_a_client_error():
    response = signed_in()[0].post("/api/v1/auth/token", data='{"username": "a", "password": 1e-6000000000000000000000}',
                                   content_type="application/json")
    refused(response, 422, "malformed_json")


# Bodies of any nesting depth or size are refused before anything reads them again


def deep(levels: int) -> str:
    return '{"userId": ' + "[" * levels + "]" * levels + "}"


@pytest.mark.parametrize("levels", [40, 500_000])
@pytest.mark.parametrize("idempotency_key", [None, "deep-1"])
def test_deeply_nested_bodies_are_refused_cleanly(webuddy_client, settings, levels, idempotency_key):
    settings.API_MAX_BODY_BYTES = 2_000_000  # let the deepest body in, to be refused for its depth
    headers = {"HTTP_IDEMPOTENCY_KEY": idempotency_key} if idempotency_key else {}
    client, _ = signed_in()
    before = money_snapshot()

    webuddy = webuddy_client.post("/v1/wallet/recharge", data=deep(levels), content_type="application/json", **headers)
    tmr = client.post("/api/v1/wallet/charge", data=deep(levels), content_type="application/json", **headers)

    assert "deeper than 32" in refused(webuddy, 400, "malformed_json")["message"]
    refused(tmr, 422, "malformed_json")
    assert money_snapshot() == before


def test_a_deep_body_over_the_size_limit_is_413(webuddy_client):
    refused(webuddy_client.post("/v1/wallet/recharge", data=deep(500_000), content_type="application/json"),
            413, "payload_too_large")


@pytest.mark.parametrize("idempotency_key", [None, "big-1"])
def test_a_body_over_the_limit_is_413_with_the_envelope(webuddy_client, settings, idempotency_key):
    settings.API_MAX_BODY_BYTES = 1024
    headers = {"HTTP_IDEMPOTENCY_KEY": idempotency_key} if idempotency_key else {}
    body = json.dumps({"phoneNumber": next(PHONES), "name": "x" * 2000})

    refused(webuddy_client.post("/v1/users", data=body, content_type="application/json", **headers), 413, "payload_too_large")


@pytest.mark.parametrize("size", [300_000, 2_700_000, 12_000_000])  # under, over and far over Django's 2.5 MB
@pytest.mark.parametrize(("path", "caller"), [
    ("/v1/users", "webuddy"), ("/v1/wallet/recharge", "webuddy"), ("/v1/webhooks/razorpay", "nobody"),
    ("/api/v1/wallet/charge", "user"), ("/api/v1/auth/register", "nobody"), ("/api/v1/wallet/escrow/freeze", "tmr"),
])
@pytest.mark.parametrize("idempotency_key", [None, "huge-1"])
def test_every_body_over_the_limit_is_413_whatever_its_size(webuddy_client, tmr_key_client, path, caller, size,
                                                             idempotency_key):
    clients = {"webuddy": webuddy_client, "tmr": tmr_key_client, "user": signed_in()[0], "nobody": APIClient()}
    headers = {"HTTP_IDEMPOTENCY_KEY": idempotency_key} if idempotency_key else {}
    before = money_snapshot()

    response = clients[caller].post(path, data='{"name": "' + "x" * size + '"}', content_type="application/json",
                                    **headers)

    refused(response, 413, "payload_too_large")
    assert money_snapshot() == before


def test_an_idempotency_key_with_control_characters_is_400(webuddy_client):
    user = create_user(webuddy_client)
    before = money_snapshot()
    response = webuddy_client.post("/v1/wallet/recharge", {"userId": user["id"], "amount": 5, "paymentMethod": "STRIPE"},
                                   format="json", HTTP_IDEMPOTENCY_KEY="key\x00one")
    refused(response, 400, "idempotency_key_invalid")
    assert money_snapshot() == before


# Ids compare as UUIDs


@pytest.mark.parametrize("spelling", [str.upper, lambda i: i.replace("-", "")], ids=["upper", "unhyphenated"])
def test_ending_a_session_accepts_the_experts_id_in_any_spelling_of_the_uuid(webuddy_client, spelling):
    user, expert = funded_user(webuddy_client, 500), create_user(webuddy_client)
    started = webuddy_client.post("/v1/sessions/start", {"userId": user["id"], "expertId": spelling(expert["id"]),
                                                         "sessionFee": 100}, format="json")
    assert started.status_code == 201, started.content

    ended = webuddy_client.post("/v1/sessions/end", {"sessionId": started.json()["id"].upper(),
                                                     "expertId": spelling(expert["id"]), "actualFee": 100}, format="json")

    assert (ended.status_code, ended.json()["status"], ended.json()["expertEarning"]) == (200, "settled", 90)


def test_ending_a_session_with_another_expert_is_still_a_mismatch(webuddy_client):
    user, expert, other = funded_user(webuddy_client, 500), create_user(webuddy_client), create_user(webuddy_client)
    started = webuddy_client.post("/v1/sessions/start", {"userId": user["id"], "expertId": expert["id"], "sessionFee": 100},
                                  format="json").json()
    before = money_snapshot()
    for claimed in (other["id"].upper(), "not-a-uuid"):
        response = webuddy_client.post("/v1/sessions/end", {"sessionId": started["id"], "expertId": claimed, "actualFee": 100},
                                       format="json")
        refused(response, 400, "expert_mismatch")
    assert money_snapshot() == before


# The KYC mask never shows more than half of a number


@pytest.mark.parametrize(("number", "masked"), [
    ("987654321012", "98****1012"), ("310101199001011234", "310101****1234"), ("E12345678", "****5678"),
])
def test_the_kyc_mask_shows_at_most_half_of_the_number(number, masked):
    client, _ = signed_in()
    response = client.post("/api/v1/wallet/kyc", {"full_name": "Zhang Ming", "id_type": "national_id", "id_number": number},
                           format="json")
    assert (response.status_code, response.json()["id_number"]) == (201, masked)


@pytest.mark.parametrize("length", range(4, 41))
def test_no_mask_shows_more_than_half_except_the_seeds_18_digit_format(length):
    from kyc.services import id_number_mask

    number = "".join(str(i % 10) for i in range(length))
    shown = len(id_number_mask(number)) - 4
    assert shown <= (10 if length == 18 else length // 2)
