"""The back office in a real browser: Playwright driving Debian's Chromium (headless) against a live
server, logged in as a Finance user. Each screen is saved as a PNG under the output folder
(`var/test-output/back-office/`, or BACK_OFFICE_SCREENSHOTS).

Without Chromium the tests skip with a loud message; under CI=true a missing browser fails them.
"""
import os
import sys
from decimal import Decimal
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from rest_framework_simplejwt.tokens import AccessToken

from kyc.models import KycSubmission
from payouts.models import Payout
from tests.admin.builders import expert_with_bank, kyc_applicant
from tests.admin.conftest import PASSWORD, make_staff
from tests.tmr.helpers import charge, signed_in
from wallets.models import Account
from wallets.roles import finance_group_sync

pytestmark = pytest.mark.django_db(transaction=True)

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
SHOTS = Path(os.environ.get("BACK_OFFICE_SCREENSHOTS", Path(django_settings.BASE_DIR) / "var" / "test-output" / "back-office"))
# As the machine's own Chromium needs it headless, as root and with no network beyond localhost.
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]


def _no_browser(reason: str):
    message = f"\n!! BROWSER TESTS NOT RUN: {reason} (the test command installs Debian's chromium when run as root)\n"
    sys.stderr.write(message)
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture(scope="module")
def browser():
    if not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        _no_browser(f"{CHROMIUM} is missing")
    from playwright.sync_api import sync_playwright

    # Playwright's sync API keeps an event loop running in this thread while the browser is open;
    # the ORM calls of the tests themselves (and the database flush after each) are still plain
    # synchronous code, which Django would otherwise refuse next to a running loop.
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as playwright:
            chromium = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
            yield chromium
            chromium.close()
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture
def page(browser, live_server):
    finance_group_sync()  # a transactional test starts from a flushed database
    SHOTS.mkdir(parents=True, exist_ok=True)
    context = browser.new_context(base_url=live_server.url, viewport={"width": 1440, "height": 900})
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()


def shot(page, name: str) -> None:
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def log_in_as_finance(page):
    staff = make_staff(finance=True)
    page.goto("/admin/login/?next=/admin/")
    shot(page, "01-login")
    page.fill("#id_username", staff.username)
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_selector("#finance-dashboard")
    return staff


def bearer(user) -> dict:
    return {"Authorization": f"Bearer {AccessToken.for_user(user)}"}


def test_finance_approves_one_kyc_and_rejects_another(page, live_server):
    approved = kyc_applicant(name="Li Wei", number="310101199001011234")
    rejected = kyc_applicant(name="Sam Okafor", number="A12345678")
    log_in_as_finance(page)
    shot(page, "02-dashboard")

    page.click("#dash-pending-kyc-tmr a")
    page.wait_for_selector("#result_list")
    assert "310101****1234" in page.inner_text("#result_list")
    assert "310101199001011234" not in page.content()
    shot(page, "03-kyc-queue")

    page.click("text=Li Wei")
    page.wait_for_selector("#kyc-approve")
    shot(page, "04-kyc-detail")
    page.click("#kyc-approve")
    page.click("#kyc-review-form input[type=submit]")
    page.wait_for_selector(".messagelist .success")
    assert "verified" in page.inner_text(".messagelist")
    shot(page, "05-kyc-approved")

    seen = page.request.get(f"{live_server.url}/api/v1/wallet/kyc", headers=bearer(approved.user))
    assert seen.status == 200 and seen.json()["status"] == "verified"

    page.goto(f"/admin/kyc/kycsubmission/{rejected.pk}/change/")
    page.click("#kyc-reject")
    assert page.get_attribute("#id_reason", "required") is not None  # no reason, no submit
    page.fill("#id_reason", "The document photo is unreadable")
    shot(page, "06-kyc-reject-reason")
    page.click("#kyc-review-form input[type=submit]")
    page.wait_for_selector(".messagelist .success")

    seen = page.request.get(f"{live_server.url}/api/v1/wallet/kyc", headers=bearer(rejected.user))
    assert seen.json()["status"] == "rejected"
    assert KycSubmission.objects.get(pk=rejected.pk).rejection_reason == "The document photo is unreadable"


def test_finance_runs_monthly_payouts_dry_then_for_real(page):
    ravi, ravi_wallet, _ = expert_with_bank(earned_last_month=1500, name="Ravi Kumar")
    meena, _, _ = expert_with_bank(earned_last_month=800, name="Meena Iyer")
    log_in_as_finance(page)

    page.goto("/admin/payouts/payout/")
    page.click("#run-monthly")
    page.wait_for_selector("#monthly-form")
    assert page.is_checked("#id_dry_run")
    page.click("#monthly-form input[name=preview]")
    page.wait_for_selector("#monthly-rows")
    assert "would_pay: 2" in page.inner_text("#monthly-summary")
    assert page.locator("#monthly-confirm").count() == 0
    shot(page, "07-monthly-dry-run")
    assert Payout.objects.count() == 0

    page.uncheck("#id_dry_run")
    page.click("#monthly-form input[name=preview]")
    page.wait_for_selector("#monthly-confirm")
    shot(page, "08-monthly-confirm")
    assert Payout.objects.count() == 0

    page.click("#monthly-confirm input[name=pay]")
    page.wait_for_selector(".messagelist .success")
    assert "paid: 2" in page.inner_text("#monthly-summary")
    shot(page, "09-monthly-done")

    page.goto("/admin/payouts/payout/?status__exact=paid")
    page.wait_for_selector("#payout-totals")
    assert page.locator("#result_list tbody tr").count() == 2
    shot(page, "10-payouts-paid")
    assert set(Payout.objects.values_list("status", flat=True)) == {"paid"}
    ravi_wallet.refresh_from_db()
    assert ravi_wallet.balance == Decimal(0)


def test_finance_suspends_a_wallet_and_the_api_refuses_a_withdrawal(page, live_server):
    buyer, user = signed_in()
    charge(buyer, 75)
    wallet = Account.objects.get(user_id=user["id"], currency="USD")
    log_in_as_finance(page)

    page.goto(f"/admin/wallets/account/?q={user['username']}")
    page.check(f"input[name=_selected_action][value='{wallet.pk}']")
    page.select_option("select[name=action]", "suspend_wallets")
    page.click("button[name=index]")
    page.wait_for_selector("#id_reason")
    page.fill("#id_reason", "Card chargeback under review")
    shot(page, "11-suspend-reason")
    page.click("input[name=_confirm_action]")
    page.wait_for_selector(".messagelist .success")
    assert "Suspended" in page.inner_text("#result_list")
    shot(page, "12-wallet-suspended")

    withdrawal = page.request.post(
        f"{live_server.url}/api/v1/wallet/withdraw",
        headers={**bearer(wallet.user), "Content-Type": "application/json"},
        data='{"amount": 10, "currency": "USD"}',
    )
    assert withdrawal.status == 403 and withdrawal.json()["code"] == "wallet_suspended"

    page.goto(f"/admin/wallets/account/{wallet.pk}/change/")
    page.wait_for_selector("#recent-entries")
    shot(page, "13-wallet-detail")
    page.click("#post-adjustment")
    page.check("input[name=direction][value=credit]")
    page.fill("#id_amount", "5")
    page.fill("#id_reason", "Goodwill credit for the delay")
    shot(page, "14-adjustment-form")
    page.click("#adjustment-form input[type=submit]")
    page.wait_for_selector(".messagelist .success")
    wallet.refresh_from_db()
    assert wallet.balance == Decimal(80)
