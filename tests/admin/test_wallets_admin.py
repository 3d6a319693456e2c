"""Wallets in the back office: suspend / reactivate (the API refuses a suspended wallet at once),
recent entries, adjustments posted against the adjustments account, API keys shown once, and the
dashboard's figures."""
import io
import uuid
from decimal import Decimal

import pytest
from django.contrib.admin.models import LogEntry
from django.core.management import call_command
from django.urls import reverse
from rest_framework.test import APIClient

from tests.factories import make_wallet
from tests.tmr.helpers import charge, signed_in
from tests.webuddy.helpers import create_user, funded_user
from wallets.models import Account, ApiKey, JournalTransaction, Tenant
from wallets.selectors import system_account_balance
from wallets.services import api_keys

pytestmark = pytest.mark.django_db
D = Decimal
WALLETS = "admin:wallets_account_changelist"
ADJUST = "admin:wallets_account_adjust"


def adjust(client, **fields):
    """Submit the adjustment form as the browser does, with the opened form's one-time id."""
    fields.setdefault("submission", str(uuid.uuid4()))
    return client.post(reverse(ADJUST), fields)


def wallet_action(client, name, wallets, reason):
    return client.post(
        reverse(WALLETS), {"action": name, "_selected_action": [w.pk for w in wallets], "confirm": "yes", "reason": reason}
    )


def test_wallet_list_shows_owner_balance_held_available_and_status(finance_client):
    buyer, user = signed_in()
    charge(buyer, 80)
    wallet = Account.objects.get(user_id=user["id"], currency="USD")

    page = finance_client.get(reverse(WALLETS), {"q": user["username"]})

    assert list(page.context["cl"].result_list) == [wallet]
    html = page.content.decode()
    for text in (user["username"], ">80.00<", "Active"):
        assert text in html


def test_suspend_refuses_withdrawals_until_reactivated(finance_client, finance_user):
    buyer, user = signed_in()
    charge(buyer, 50)
    wallet = Account.objects.get(user_id=user["id"], currency="USD")

    wallet_action(finance_client, "suspend_wallets", [wallet], "Chargeback under review")
    refused = buyer.post("/api/v1/wallet/withdraw", {"amount": 10, "currency": "USD"}, format="json")
    wallet_action(finance_client, "reactivate_wallets", [wallet], "Review closed")
    allowed = buyer.post("/api/v1/wallet/withdraw", {"amount": 10, "currency": "USD"}, format="json")

    assert (refused.status_code, refused.json()["code"]) == (403, "wallet_suspended")
    assert allowed.status_code == 200
    messages = list(LogEntry.objects.filter(object_id=str(wallet.pk)).order_by("id").values_list("user", "change_message"))
    assert messages == [
        (finance_user.pk, "Suspended. Reason: Chargeback under review"),
        (finance_user.pk, "Reactivated. Reason: Review closed"),
    ]


def test_suspending_needs_a_reason_and_never_touches_system_accounts(finance_client):
    wallet = make_wallet(balance=5)
    system = Account.objects.filter(kind=Account.Kind.SYSTEM).first()

    no_reason = wallet_action(finance_client, "suspend_wallets", [wallet], "")
    wallet_action(finance_client, "suspend_wallets", [system], "try")

    assert no_reason.status_code == 200
    wallet.refresh_from_db()
    system.refresh_from_db()
    assert (wallet.status, system.status) == ("active", "active")


def test_wallet_page_shows_its_recent_entries_and_the_adjustment_link(finance_client):
    wallet = make_wallet(balance=70)

    html = finance_client.get(reverse("admin:wallets_account_change", args=[wallet.pk])).content.decode()

    assert "recent-entries" in html and "deposit" in html and ">70.00<" in html
    assert f"{reverse(ADJUST)}?wallet={wallet.pk}" in html


@pytest.mark.parametrize("direction, balance, adjustments", [("credit", D(125), D(-25)), ("debit", D(75), D(25))])
def test_an_adjustment_posts_against_the_adjustments_account_and_shows_in_history(
    direction, balance, adjustments, webuddy_client, finance_client, finance_user
):
    user = funded_user(webuddy_client, 100)
    wallet = Account.objects.get(user_id=user["id"])

    response = adjust(finance_client, wallet=wallet.pk, direction=direction, amount="25", reason="Goodwill for outage")

    assert response.status_code == 302
    wallet.refresh_from_db()
    assert wallet.balance == balance
    assert system_account_balance(tenant="webuddy", code="adjustments", currency="INR") == adjustments
    txn = JournalTransaction.objects.get(kind="adjustment")
    assert (txn.created_by, txn.metadata["reason"]) == (finance_user, "Goodwill for outage")
    line = webuddy_client.get("/v1/wallet/history", {"userId": user["id"]}).json()["items"][0]
    assert (line["type"], line["amount"], line["direction"]) == ("adjustment", 25, direction)
    log = LogEntry.objects.get(object_id=str(wallet.pk))
    assert log.user == finance_user and log.change_message.endswith("Reason: Goodwill for outage")


def test_an_adjustment_is_refused_without_reason_or_beyond_the_balance(finance_client):
    wallet = make_wallet(balance=10)

    no_reason = adjust(finance_client, wallet=wallet.pk, direction="credit", amount="5", reason="")
    too_much = adjust(finance_client, wallet=wallet.pk, direction="debit", amount="10.01", reason="x")
    bad_scale = adjust(finance_client, wallet=wallet.pk, direction="credit", amount="1.001", reason="x")
    not_an_id = adjust(finance_client, wallet="nope", direction="credit", amount="1", reason="x")
    no_wallet = adjust(finance_client, wallet="00000000-0000-4000-8000-000000000000", direction="credit", amount="1", reason="x")

    assert [r.status_code for r in (no_reason, too_much, bad_scale, not_an_id, no_wallet)] == [200] * 5
    assert "balance is too low" in too_much.content.decode()
    assert "not a valid UUID" in not_an_id.content.decode()
    assert "No such wallet" in no_wallet.content.decode()
    wallet.refresh_from_db()
    assert wallet.balance == D(10)
    assert not JournalTransaction.objects.filter(kind="adjustment").exists()


def test_a_resubmitted_adjustment_form_posts_once(finance_client):
    wallet = make_wallet(balance=10)
    opened = finance_client.get(reverse(ADJUST), {"wallet": wallet.pk})
    submission = opened.context["form"].initial["submission"]
    fields = {"wallet": wallet.pk, "direction": "credit", "amount": "5", "reason": "Refund of fee", "submission": submission}

    first = adjust(finance_client, **fields)
    again = finance_client.post(reverse(ADJUST), fields, follow=True)

    assert first.status_code == 302
    assert "already posted" in again.content.decode()
    wallet.refresh_from_db()
    assert wallet.balance == D(15)
    assert JournalTransaction.objects.filter(kind="adjustment").count() == 1
    assert LogEntry.objects.filter(object_id=str(wallet.pk)).count() == 1


def test_an_api_key_created_in_admin_is_shown_once_and_works(finance_client, finance_user):
    response = finance_client.post(reverse("admin:wallets_apikey_add"), {"name": "orders service", "tenant": "tmr"}, follow=True)

    shown = [str(m) for m in response.context["messages"] if "copy it now" in str(m)]
    assert len(shown) == 1
    raw = shown[0].split("<code id='new-api-key'>")[1].split("</code>")[0]
    key = ApiKey.objects.get(name="orders service")
    assert key.prefix in raw and key.key_hash not in raw
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {raw}")
    assert client.post("/api/v1/wallet/escrow/cancel", {"order_id": "none"}, format="json").json()["code"] == "order_not_found"
    page = finance_client.get(reverse("admin:wallets_apikey_change", args=[key.pk])).content.decode()
    assert raw not in page
    assert LogEntry.objects.filter(user=finance_user, object_id=str(key.pk)).exists()


def test_the_dashboard_counts_what_finance_watches(finance_client, webuddy_client, tmr_key_client):
    from tests.admin.builders import kyc_applicant

    kyc_applicant()
    user, expert = funded_user(webuddy_client, 500), create_user(webuddy_client)
    webuddy_client.post("/v1/sessions/start", {"userId": user["id"], "expertId": expert["id"], "sessionFee": 120}, format="json")
    buyer, buyer_user = signed_in()
    charge(buyer, 90)
    tmr_key_client.post(
        "/api/v1/wallet/escrow/freeze",
        {"user_id": buyer_user["id"], "order_id": "o-1", "amount": 60, "currency": "USD"}, format="json",
    )
    call_command("reconcile", stdout=io.StringIO())

    board = finance_client.get(reverse("admin:index")).context["board"]

    assert [t.code for t in board.tenants] == ["tmr", "webuddy"]
    assert (board.value("pending-kyc", "tmr"), board.value("pending-kyc", "webuddy")) == (1, 0)
    assert (board.value("payouts-processing", "webuddy"), board.value("payouts-failed", "webuddy")) == (0, 0)
    assert (board.value("held-sessions", "webuddy"), board.value("held-sessions", "tmr")) == ({"INR": D(120)}, {})
    assert (board.value("held-escrows", "tmr"), board.value("held-escrows", "webuddy")) == ({"USD": D(60)}, {})
    assert board.last_reconcile.ok is True


def test_an_api_key_deactivated_in_admin_stops_working(finance_client, finance_user):
    key, raw = api_keys.api_key_create(name="old partner", tenant=Tenant.objects.get(code="tmr"))
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {raw}")
    assert client.post("/api/v1/wallet/escrow/cancel", {"order_id": "none"}, format="json").status_code == 404

    response = finance_client.post(
        reverse("admin:wallets_apikey_change", args=[key.pk]), {"name": "old partner (retired)", "is_active": ""}
    )

    assert response.status_code == 302
    key.refresh_from_db()
    assert (key.name, key.is_active, key.scope) == ("old partner (retired)", False, "tmr")
    refused = client.post("/api/v1/wallet/escrow/cancel", {"order_id": "none"}, format="json")
    assert (refused.status_code, refused.json()["code"]) == (401, "not_authenticated")
    assert LogEntry.objects.filter(user=finance_user, object_id=str(key.pk)).exists()
