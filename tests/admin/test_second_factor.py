"""Staff who can move money sign in to the back office with a TOTP code (django-otp); sign-ins are
throttled per username and per address."""
import io
import time

import pytest
from django.core.management import CommandError, call_command
from django.test import Client
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice

from tests.admin.conftest import PASSWORD, logged_in, make_staff

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def second_factor_on(settings):
    settings.ADMIN_OTP_REQUIRED = True


def enroll(user) -> TOTPDevice:
    out = io.StringIO()
    call_command("otp_enroll", user.username, stdout=out)
    assert "otpauth://totp/" in out.getvalue()
    return TOTPDevice.objects.get(user=user)


def code(device: TOTPDevice, *, offset_steps: int = 0) -> str:
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    totp.time = time.time() + offset_steps * device.step
    return f"{totp.token():0{device.digits}d}"


def sign_in(client: Client, user, *, password: str = PASSWORD, token: str = "", device: TOTPDevice | None = None,
            address: str = "127.0.0.1"):
    form = {"username": user.username, "password": password, "otp_token": token, "next": "/admin/"}
    if device is not None:
        form["otp_device"] = device.persistent_id
    return client.post("/admin/login/?next=/admin/", form, REMOTE_ADDR=address)


def signed_in(client: Client) -> bool:
    return client.get("/admin/").status_code == 200


def test_finance_without_a_device_cannot_sign_in_and_is_told_how_to_get_one():
    user = make_staff(finance=True)
    client = Client()
    response = sign_in(client, user)
    assert response.status_code == 200  # the form again
    assert "otp_enroll" in response.content.decode() and user.username in response.content.decode()
    assert not signed_in(client)


def test_finance_signs_in_with_password_and_code():
    user = make_staff(finance=True)
    device = enroll(user)

    client = Client()
    assert sign_in(client, user, device=device).status_code == 200  # no code: refused
    assert not signed_in(client)
    wrong = sign_in(client, user, token=code(device, offset_steps=10), device=device)
    assert wrong.status_code == 200 and "Invalid token" in wrong.content.decode()
    assert not signed_in(client)
    device.refresh_from_db()
    assert device.throttling_failure_count == 1  # django-otp also slows guessing down per device ...
    device.throttle_reset()  # ... for a second after a wrong code; the user would wait that second

    response = sign_in(client, user, token=code(device), device=device)
    assert response.status_code == 302 and response["Location"] == "/admin/"
    assert signed_in(client)
    assert client.get("/admin/wallets/account/").status_code == 200


def test_a_session_without_the_second_factor_opens_no_page_for_those_who_move_money():
    """A password-only session (e.g. from before the setting was switched on) is treated as signed out."""
    for user in (make_staff(finance=True), make_staff(superuser=True)):
        client = logged_in(user)
        response = client.get("/admin/wallets/account/")
        assert response.status_code == 302 and response["Location"].startswith("/admin/login/")


def test_staff_who_only_look_need_no_second_factor():
    user = make_staff()  # staff with no money permission
    client = Client()
    assert sign_in(client, user).status_code == 302
    assert signed_in(client)


def test_the_setting_off_lets_a_password_do_locally(settings):
    settings.ADMIN_OTP_REQUIRED = False
    client = Client()
    assert sign_in(client, make_staff(finance=True)).status_code == 302
    assert signed_in(client)


def test_enrolment_is_for_staff_and_once(settings):
    user = make_staff(finance=True)
    enroll(user)
    with pytest.raises(CommandError, match="already has"):
        call_command("otp_enroll", user.username, stdout=io.StringIO())
    call_command("otp_enroll", user.username, "--replace", stdout=io.StringIO())
    assert TOTPDevice.objects.filter(user=user).count() == 1
    with pytest.raises(CommandError, match="No staff user"):
        call_command("otp_enroll", "nobody-here", stdout=io.StringIO())


def test_sign_ins_are_throttled_per_username_and_per_address(settings):
    settings.LOGIN_FAILURE_LIMIT = 3
    user = make_staff()
    client = Client()
    for _ in range(3):
        assert sign_in(client, user, password="wrong-password", address="198.51.100.7").status_code == 200
    refused = sign_in(client, user, address="203.0.113.1")  # the right password, from elsewhere: the username is locked
    assert "Too many failed sign-ins" in refused.content.decode()
    assert not signed_in(client)
    other = make_staff()
    refused = sign_in(Client(), other, address="198.51.100.7")  # another user from the guessing address
    assert "Too many failed sign-ins" in refused.content.decode()
    fine = Client()
    assert sign_in(fine, other, address="203.0.113.2").status_code == 302


def test_wrong_codes_count_as_failed_sign_ins(settings):
    settings.LOGIN_FAILURE_LIMIT = 3
    user = make_staff(finance=True)
    device = enroll(user)
    client = Client()
    for _ in range(3):
        sign_in(client, user, token="000000" if code(device) != "000000" else "111111", device=device)
    refused = sign_in(client, user, token=code(device), device=device)
    assert "Too many failed sign-ins" in refused.content.decode()
    assert not signed_in(client)


def test_a_sign_in_with_a_field_missing_is_the_form_again_not_an_error():
    user = make_staff(finance=True)
    for form in ({"username": user.username}, {"password": PASSWORD}, {}):
        response = Client().post("/admin/login/?next=/admin/", form)
        assert response.status_code == 200 and "This field is required" in response.content.decode()


@pytest.mark.parametrize(("debug", "required", "says"), [
    (False, True, ["Only for staff with a second-factor device", "Everyone who can move money must have one"]),
    (True, False, ["Only for staff with a second-factor device", "The quick start's logins have none"]),
])
def test_the_sign_in_page_says_when_the_code_is_needed(settings, debug, required, says):
    settings.DEBUG, settings.ADMIN_OTP_REQUIRED = debug, required

    page = Client().get("/admin/login/").content.decode()

    assert "Code from your authenticator app" in page and "OTP Token" not in page
    assert all(sentence in page for sentence in says)
    assert ("quick start" in page) == debug and ("must have one" in page) == required
