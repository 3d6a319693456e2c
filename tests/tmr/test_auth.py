"""Sign-up, tokens and the 401/429 rules of the TMR dialect."""
from datetime import timedelta

import pytest
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import AccessToken

from tests.tmr.helpers import PASSWORD, UUID, register, signed_in
from wallets.models import Account, User

pytestmark = pytest.mark.django_db


def post(url, body):
    return APIClient().post(url, body, format="json")


def test_register_creates_a_user_with_a_usd_wallet():
    response = post("/api/v1/auth/register", {"username": "mei", "password": PASSWORD})
    assert response.status_code == 201
    body = response.json()
    assert set(body) == {"id", "username"} and body["username"] == "mei" and UUID.match(body["id"])
    wallet = Account.objects.get(user_id=body["id"])
    assert (wallet.currency, wallet.balance, wallet.held_balance) == ("USD", 0, 0)
    assert User.objects.get(pk=body["id"]).check_password(PASSWORD)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"username": "mei", "password": "short"}, "password"),
        ({"username": "mei", "password": "password123"}, "password"),
        ({"username": "mei", "password": "12345678901"}, "password"),
        ({"username": "mei"}, "password"),
        ({"password": PASSWORD}, "username"),
        ({"username": "", "password": PASSWORD}, "username"),
    ],
)
def test_register_refuses_weak_passwords_and_missing_fields_with_422(body, field):
    response = post("/api/v1/auth/register", body)
    assert (response.status_code, response.json()["code"]) == (422, "validation_error")
    assert field in response.json()["fields"]
    assert User.objects.count() == 0


def test_register_refuses_a_taken_username():
    register("mei")
    response = post("/api/v1/auth/register", {"username": "MEI", "password": PASSWORD})
    assert (response.status_code, response.json()["code"]) == (409, "username_taken")


def test_token_pair_and_refresh():
    register("mei")
    tokens = post("/api/v1/auth/token", {"username": "mei", "password": PASSWORD}).json()
    assert set(tokens) == {"access", "refresh"}

    refreshed = post("/api/v1/auth/token/refresh", {"refresh": tokens["refresh"]})
    assert refreshed.status_code == 200 and "access" in refreshed.json()
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {refreshed.json()['access']}")
    assert client.get("/api/v1/wallet").status_code == 200


@pytest.mark.parametrize("refresh", ["garbage", ""])
def test_bad_refresh_token_is_401_or_422(refresh):
    response = post("/api/v1/auth/token/refresh", {"refresh": refresh})
    assert (response.status_code, response.json()["code"]) in ((401, "not_authenticated"), (422, "validation_error"))


def test_wrong_password_is_401():
    register("mei")
    response = post("/api/v1/auth/token", {"username": "mei", "password": "wrong-password-1"})
    assert (response.status_code, response.json()["code"]) == (401, "not_authenticated")


def test_repeated_failures_for_a_username_are_throttled_with_retry_after(settings):
    settings.LOGIN_FAILURE_LIMIT = 3
    register("mei")
    statuses = [post("/api/v1/auth/token", {"username": "mei", "password": "nope-nope-1"}).status_code for _ in range(3)]
    assert statuses == [401, 401, 401]

    limited = post("/api/v1/auth/token", {"username": "mei", "password": PASSWORD})  # even the right one

    assert (limited.status_code, limited.json()["code"]) == (429, "rate_limited")
    assert 0 < int(limited["Retry-After"]) <= settings.LOGIN_FAILURE_WINDOW_SECONDS
    assert post("/api/v1/auth/token", {"username": "other", "password": "x"}).status_code == 429  # same address


def test_failures_are_forgotten_after_the_window_and_after_a_success(settings):
    from wallets.models import LoginFailure

    settings.LOGIN_FAILURE_LIMIT = 3
    register("mei")
    for _ in range(2):
        post("/api/v1/auth/token", {"username": "mei", "password": "nope-nope-1"})
    assert post("/api/v1/auth/token", {"username": "mei", "password": PASSWORD}).status_code == 200
    assert not LoginFailure.objects.filter(username="mei").exists()

    for _ in range(3):
        post("/api/v1/auth/token", {"username": "mei", "password": "nope-nope-1"})
    from django.utils import timezone

    LoginFailure.objects.update(failed_at=timezone.now() - timedelta(seconds=settings.LOGIN_FAILURE_WINDOW_SECONDS + 1))
    assert post("/api/v1/auth/token", {"username": "mei", "password": PASSWORD}).status_code == 200


def _token_with(**changes):
    user = User.objects.get(username=register()["username"])
    token = AccessToken.for_user(user)
    for name, value in changes.items():
        token.set_exp(lifetime=value) if name == "lifetime" else token.__setitem__(name, value)
    return str(token)


@pytest.mark.parametrize(
    "header",
    [
        None,
        "Bearer",
        "Bearer not.a.jwt",
        "Bearer eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl",
        "Token abc",
    ],
)
def test_missing_or_malformed_tokens_are_401(header):
    client = APIClient()
    if header:
        client.credentials(HTTP_AUTHORIZATION=header)
    response = client.get("/api/v1/wallet")
    assert (response.status_code, response.json()["code"]) == (401, "not_authenticated")


def test_expired_and_wrongly_signed_tokens_are_401():
    expired = _token_with(lifetime=-timedelta(seconds=1))
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {expired}")
    assert client.get("/api/v1/wallet").json()["code"] == "not_authenticated"

    import jwt

    user = User.objects.get(username=register()["username"])
    forged = jwt.encode({"token_type": "access", "user_id": str(user.id), "exp": 9999999999, "jti": "x"}, "another-secret-key-of-32-bytes!!", algorithm="HS256")
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {forged}")
    response = client.get("/api/v1/wallet")
    assert (response.status_code, response.json()["code"]) == (401, "not_authenticated")


def test_an_api_key_cannot_use_user_endpoints(webuddy_client, tmr_key_client):
    for client in (webuddy_client, tmr_key_client):
        response = client.get("/api/v1/wallet")
        assert (response.status_code, response.json()["code"]) == (403, "permission_denied")


def test_a_user_token_cannot_use_escrow_endpoints():
    client, user = signed_in()
    response = client.post("/api/v1/wallet/escrow/freeze", {"user_id": user["id"], "order_id": "o", "amount": 1}, format="json")
    assert (response.status_code, response.json()["code"]) == (403, "permission_denied")


REFRESH = "/api/v1/auth/token/refresh"


def test_sign_in_and_refresh_authenticate_by_their_body():
    """The open token endpoints ask for credentials in the body: a deactivated user gets no token and
    no new access token; an access token is no refresh token."""
    user = register()
    tokens = APIClient().post("/api/v1/auth/token", {"username": user["username"], "password": PASSWORD},
                              format="json").json()
    User.objects.filter(pk=user["id"]).update(is_active=False)

    sign_in = APIClient().post("/api/v1/auth/token", {"username": user["username"], "password": PASSWORD},
                               format="json")
    refresh = APIClient().post(REFRESH, {"refresh": tokens["refresh"]}, format="json")
    access_as_refresh = APIClient().post(REFRESH, {"refresh": tokens["access"]}, format="json")

    for response in (sign_in, refresh, access_as_refresh):
        assert (response.status_code, response.json()["code"]) == (401, "not_authenticated"), response.content
        assert "access" not in response.json()
